// Package snapshot renders a stack's resource graph as stable, readable JSON, so a pull request that
// changes infrastructure shows the change as a diff of testdata/snapshots/<stack>.json, even from a
// fork without cloud credentials. `go test ./... -update` rewrites the files.
package snapshot

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/acme/ecs-api/internal/pulumitest"
)

// Update is the -update flag. Every test package imports this package (some only for the flag), so
// `go test ./... -update` is accepted by all of them.
var Update = flag.Bool("update", false, "rewrite testdata/snapshots from the program instead of comparing")

// Masked stands in for secret values, which must never reach a committed file.
const Masked = "[secret]"

// Random stands in for values the program draws at random on each run, which state then keeps.
const Random = "[random]"

var randomSuffix = regexp.MustCompile(`-[0-9a-f]{8}$`)

type entry struct {
	Type          string         `json:"type"`
	Name          string         `json:"name"`
	Parent        string         `json:"parent,omitempty"`
	Provider      string         `json:"provider,omitempty"`
	Remote        bool           `json:"remote,omitempty"`
	Protect       bool           `json:"protect,omitempty"`
	IgnoreChanges []string       `json:"ignoreChanges,omitempty"`
	DependsOn     []string       `json:"dependsOn,omitempty"`
	Inputs        map[string]any `json:"inputs"`
}

// Render returns the graph as indented JSON: resources by type and name, secrets masked, JSON held in
// strings (container definitions, IAM policies) expanded so their changes diff line by line.
func Render(resources []*pulumitest.Resource) ([]byte, error) {
	entries := make([]entry, 0, len(resources))
	for _, r := range resources {
		deps := make([]string, 0, len(r.Dependencies))
		for _, d := range r.Dependencies {
			deps = append(deps, short(d))
		}
		sort.Strings(deps)
		e := entry{
			Type: r.Type, Name: r.Name, Parent: short(r.Parent), Remote: r.Remote, Protect: r.Protect,
			IgnoreChanges: r.IgnoreChanges, DependsOn: deps, Inputs: map[string]any{},
		}
		if r.Provider != "" {
			e.Provider = short(strings.SplitN(r.Provider, "::"+lastSegment(r.Provider), 2)[0])
		}
		for k, v := range r.Inputs {
			e.Inputs[string(k)] = plain(v)
		}
		if r.Type == "aws:rds/instance:Instance" {
			// Drawn at random when the instance is created (and then kept by ignoreChanges).
			if id, ok := e.Inputs["finalSnapshotIdentifier"].(string); ok {
				e.Inputs["finalSnapshotIdentifier"] = randomSuffix.ReplaceAllString(id, "-"+Random)
			}
		}
		entries = append(entries, e)
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].Type != entries[j].Type {
			return entries[i].Type < entries[j].Type
		}
		return entries[i].Name < entries[j].Name
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(entries)
	return buf.Bytes(), err
}

// Compare checks rendered against the golden file, or rewrites it with -update.
func Compare(path string, rendered []byte) error {
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, rendered, 0o644)
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w (create it with `go test ./... -update`)", err)
	}
	if bytes.Equal(golden, rendered) {
		return nil
	}
	want, got := strings.Split(string(golden), "\n"), strings.Split(string(rendered), "\n")
	for i := 0; i < len(want) || i < len(got); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			return fmt.Errorf("%s differs from the program from line %d:\n  committed: %s\n  program:   %s\n"+
				"review the change and run `go test ./... -update` to accept it", path, i+1, w, g)
		}
	}
	return nil
}

// short turns a URN into "type::name".
func short(urn string) string {
	if urn == "" {
		return ""
	}
	u := resource.URN(urn)
	return string(u.Type()) + "::" + u.Name()
}

func lastSegment(s string) string {
	return s[strings.LastIndex(s, "::")+2:]
}

// plain converts a property value to JSON-able Go values, masking secrets.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Masked
	case v.IsComputed() || v.IsOutput():
		return "[unknown]"
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		s := v.StringValue()
		if strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
			var parsed any
			if json.Unmarshal([]byte(s), &parsed) == nil {
				return map[string]any{"json": parsed}
			}
		}
		return s
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	case v.IsResourceReference():
		return short(string(v.ResourceReferenceValue().URN))
	}
	return fmt.Sprint(v.V)
}
