// Package stackfile reads and edits the image of a stack file (Pulumi.<stack>.yaml) as text, so a
// change of image is one line of the file and its comments and layout stay; and tells which CPU
// architecture a stack's instances need. It imports no SDK: release tools stay small.
package stackfile

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/acme/ecs-api/config"
)

// Project is the Pulumi project in dir: its name and its instanceType default.
type Project struct {
	dir, name, defaultInstanceType string
}

func Load(dir string) (*Project, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return nil, fmt.Errorf("no Pulumi project in %s: %w", dir, err)
	}
	var doc struct {
		Name   string `yaml:"name"`
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil || doc.Name == "" {
		return nil, fmt.Errorf("%s/Pulumi.yaml has no project name (%v)", dir, err)
	}
	instanceType, _ := doc.Config["instanceType"].Default.(string)
	return &Project{dir: dir, name: doc.Name, defaultInstanceType: instanceType}, nil
}

func (p *Project) StackFile(stack string) string {
	return filepath.Join(p.dir, "Pulumi."+stack+".yaml")
}

// read returns a stack file, or an error that names the stacks there are.
func (p *Project) read(stack string) ([]byte, error) {
	if !stackName.MatchString(stack) {
		return nil, fmt.Errorf("%q is not a stack name", stack)
	}
	raw, err := os.ReadFile(p.StackFile(stack))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("unknown stack %q: there is no %s (stacks: %s)", stack, p.StackFile(stack), strings.Join(p.Stacks(), ", "))
	}
	return raw, err
}

func (p *Project) Stacks() []string {
	files, _ := filepath.Glob(filepath.Join(p.dir, "Pulumi.*.yaml"))
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// settings parses a stack file's config.
func settings(raw []byte) (map[string]any, error) {
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	return doc.Config, nil
}

// value is one of the project's keys in a stack's file ("" when unset), and the file's text.
func (p *Project) value(stack, key string) (string, []byte, error) {
	raw, err := p.read(stack)
	if err != nil {
		return "", nil, err
	}
	cfg, err := settings(raw)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", p.StackFile(stack), err)
	}
	v, _ := cfg[p.name+":"+key].(string)
	return v, raw, nil
}

// Architecture is the CPU architecture of the stack's instance type: arm64 for Graviton types.
func (p *Project) Architecture(stack string) (string, error) {
	instanceType, _, err := p.value(stack, "instanceType")
	if err != nil {
		return "", err
	}
	if instanceType == "" {
		instanceType = p.defaultInstanceType
	}
	shape, err := config.ParseInstanceType(instanceType)
	if err != nil {
		return "", fmt.Errorf("%s: instanceType %q: %w", p.StackFile(stack), instanceType, err)
	}
	if shape.Arm64 {
		return "arm64", nil
	}
	return "amd64", nil
}

var (
	stackName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	// pinned is repo[:tag]@sha256:<64 lowercase hex>, the form a registry resolves a tag to.
	pinned = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._\-/:]*)@(sha256:[a-f0-9]{64})$`)
	// tagged splits "repo:tag" where the last ":" follows the last "/" (a registry port is no tag).
	tagged = regexp.MustCompile(`^(.*/[^/:]+|[^/:]+):([A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})$`)
)

// Reference is an image pinned by digest, with the human tag it was resolved from, if any.
type Reference struct {
	Repo, Tag, Digest string
}

// String is the value the stack file gets: repo@sha256:<digest>.
func (r Reference) String() string { return r.Repo + "@" + r.Digest }

// ParseReference accepts repo[:tag]@sha256:<digest> and refuses everything mutable.
func ParseReference(ref string) (Reference, error) {
	m := pinned.FindStringSubmatch(ref)
	if m == nil {
		if config.IsImageReference(ref) {
			return Reference{}, fmt.Errorf("image %q is not pinned by digest: resolve its tag to a digest first (docker buildx imagetools inspect %s) and pass repo:tag@sha256:<digest>", ref, ref)
		}
		return Reference{}, fmt.Errorf("image %q is not a reference of the form repo[:tag]@sha256:<64 hex digits>", ref)
	}
	r := Reference{Repo: m[1], Digest: m[2]}
	if t := tagged.FindStringSubmatch(r.Repo); t != nil {
		r.Repo, r.Tag = t[1], t[2]
	}
	if r.Tag == "latest" {
		return Reference{}, fmt.Errorf("image %q comes from the mutable tag latest: release a versioned tag", ref)
	}
	if !config.IsImageReference(r.String()) {
		return Reference{}, fmt.Errorf("image %q: repository %q is not a valid name", ref, r.Repo)
	}
	return r, nil
}

// imageLine finds the image key of a stack file: indentation, the value and any comment after it.
func (p *Project) imageLine() *regexp.Regexp {
	return regexp.MustCompile(`^([ \t]+)` + regexp.QuoteMeta(p.name) + `:image:[ \t]*(.*?)[ \t]*$`)
}

// PinnedImage is a stack's image with its tag comment, which must be pinned by digest.
func (p *Project) PinnedImage(stack string) (Reference, error) {
	image, raw, err := p.value(stack, "image")
	if err != nil {
		return Reference{}, err
	}
	r, err := ParseReference(image)
	if err != nil {
		return Reference{}, fmt.Errorf("%s is not pinned: %w", stack, err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if m := p.imageLine().FindStringSubmatch(line); m != nil {
			if c := tagComment.FindStringSubmatch(m[2]); c != nil {
				r.Tag = c[1]
			}
		}
	}
	return r, nil
}

// tagComment is the comment setimage writes after the value: "# tag <tag>".
var tagComment = regexp.MustCompile(`#\s*tag\s+([A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})\s*$`)

// SetImage rewrites the image line of a stack's file (or adds one under config:) and checks that
// the file still parses to the same settings but for the image.
func (p *Project) SetImage(stack, ref string) error {
	r, err := ParseReference(ref)
	if err != nil {
		return err
	}
	raw, err := p.read(stack)
	if err != nil {
		return err
	}
	edited, err := p.edit(raw, r)
	if err != nil {
		return fmt.Errorf("%s: %w", p.StackFile(stack), err)
	}
	before, err := settings(raw)
	if err != nil {
		return fmt.Errorf("%s does not parse: %w", p.StackFile(stack), err)
	}
	after, err := settings(edited)
	if err != nil {
		return fmt.Errorf("%s would not parse after the edit: %w", p.StackFile(stack), err)
	}
	key := p.name + ":image"
	if after[key] != r.String() {
		return fmt.Errorf("%s: the edit would set image to %v, not %s", p.StackFile(stack), after[key], r)
	}
	delete(before, key)
	delete(after, key)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		return fmt.Errorf("%s: the edit would change more than the image", p.StackFile(stack))
	}
	info, err := os.Stat(p.StackFile(stack))
	if err != nil {
		return err
	}
	return os.WriteFile(p.StackFile(stack), edited, info.Mode().Perm())
}

// edit replaces the value of the one image line, keeping its indentation; without one, it adds the
// key as the first entry under config:, indented as the next line is.
func (p *Project) edit(raw []byte, r Reference) ([]byte, error) {
	value := r.String()
	if r.Tag != "" {
		value += "  # tag " + r.Tag
	}
	lines := bytes.Split(raw, []byte("\n"))
	found := -1
	for i, line := range lines {
		m := p.imageLine().FindSubmatch(line)
		if m == nil {
			continue
		}
		if found >= 0 {
			return nil, fmt.Errorf("%s:image is set twice (lines %d and %d)", p.name, found+1, i+1)
		}
		if v := strings.TrimSpace(string(m[2])); strings.HasPrefix(v, "|") || strings.HasPrefix(v, ">") {
			return nil, fmt.Errorf("line %d: image is a block scalar; write it on one line", i+1)
		}
		found = i
		lines[i] = []byte(string(m[1]) + p.name + ":image: " + value)
	}
	if found >= 0 {
		return bytes.Join(lines, []byte("\n")), nil
	}
	for i, line := range lines {
		if strings.TrimRight(string(line), " \t") != "config:" {
			continue
		}
		indent := "  "
		for _, next := range lines[i+1:] {
			if t := strings.TrimLeft(string(next), " \t"); t != "" && !strings.HasPrefix(t, "#") {
				indent = cmp.Or(string(next[:len(next)-len(t)]), indent)
				break
			}
		}
		entry := []byte(indent + p.name + ":image: " + value)
		lines = append(lines[:i+1], append([][]byte{entry}, lines[i+1:]...)...)
		return bytes.Join(lines, []byte("\n")), nil
	}
	return nil, fmt.Errorf("has no top-level config: section to add the image to")
}

// WithTag is repo[:tag]@sha256:<digest>, the form ParseReference reads back with its tag.
func (r Reference) WithTag() string {
	if r.Tag == "" {
		return r.String()
	}
	return r.Repo + ":" + r.Tag + "@" + r.Digest
}

// Image is a stack's image as its file sets it.
func (p *Project) Image(stack string) (string, error) {
	image, _, err := p.value(stack, "image")
	if err != nil {
		return "", err
	}
	if image == "" {
		return "", fmt.Errorf("%s sets no image", p.StackFile(stack))
	}
	return image, nil
}
