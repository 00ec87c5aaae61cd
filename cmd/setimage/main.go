// Command setimage pins a stack to an immutable image: it sets `image` in Pulumi.<stack>.yaml to
// repo@sha256:<digest>, keeps the human tag in a comment on the same line, and leaves every other
// line of the file as it was. It edits text only; resolving a tag to a digest happens where the
// registry is reachable (the release workflow).
//
//	go run ./cmd/setimage --stack dev --image 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2@sha256:<digest>
//	go run ./cmd/setimage --stack prod --from dev    # promotion: prod gets exactly dev's image
//	go run ./cmd/setimage --stack prod --arch        # the CPU architecture the stack's instances need
package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/acme/ecs-api/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns 0 on success, 1 when the edit is refused, 2 on bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("setimage", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("dir", ".", "the project directory, with Pulumi.yaml and the stack files")
	stack := flags.String("stack", "", "the stack whose Pulumi.<stack>.yaml to edit")
	image := flags.String("image", "", "the image to pin: repo[:tag]@sha256:<digest>")
	from := flags.String("from", "", "copy this stack's image (promotion) instead of --image")
	arch := flags.Bool("arch", false, "print the CPU architecture (amd64 or arm64) the stack's instance type needs, and change nothing")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *stack == "" || flags.NArg() > 0 || boolCount(*image != "", *from != "", *arch) != 1 {
		fmt.Fprintln(stderr, "usage: setimage --stack <stack> (--image repo[:tag]@sha256:<digest> | --from <stack> | --arch)")
		return 2
	}
	p, err := loadProject(*dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *arch {
		a, err := p.architecture(*stack)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, a)
		return 0
	}
	ref := *image
	if *from != "" {
		if ref, err = p.pinnedImage(*from); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if err := p.setImage(*stack, ref); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: image %s\n", p.stackFile(*stack), ref)
	return 0
}

func boolCount(values ...bool) int {
	n := 0
	for _, v := range values {
		if v {
			n++
		}
	}
	return n
}

// project is the Pulumi project in dir: its name and its instanceType default.
type project struct {
	dir, name, defaultInstanceType string
}

func loadProject(dir string) (*project, error) {
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
	return &project{dir: dir, name: doc.Name, defaultInstanceType: instanceType}, nil
}

func (p *project) stackFile(stack string) string {
	return filepath.Join(p.dir, "Pulumi."+stack+".yaml")
}

// read returns a stack file, or an error that names the stacks there are.
func (p *project) read(stack string) ([]byte, error) {
	if !stackName.MatchString(stack) {
		return nil, fmt.Errorf("%q is not a stack name", stack)
	}
	raw, err := os.ReadFile(p.stackFile(stack))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("unknown stack %q: there is no %s (stacks: %s)", stack, p.stackFile(stack), strings.Join(p.stacks(), ", "))
	}
	return raw, err
}

func (p *project) stacks() []string {
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

// architecture is the CPU architecture of the stack's instance type: arm64 for Graviton types.
func (p *project) architecture(stack string) (string, error) {
	raw, err := p.read(stack)
	if err != nil {
		return "", err
	}
	cfg, err := settings(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.stackFile(stack), err)
	}
	instanceType, _ := cfg[p.name+":instanceType"].(string)
	if instanceType == "" {
		instanceType = p.defaultInstanceType
	}
	shape, err := config.ParseInstanceType(instanceType)
	if err != nil {
		return "", fmt.Errorf("%s: instanceType %q: %w", p.stackFile(stack), instanceType, err)
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

// reference is an image pinned by digest, with the human tag it was resolved from, if any.
type reference struct {
	repo, tag, digest string
}

// String is the value the stack file gets: repo@sha256:<digest>.
func (r reference) String() string { return r.repo + "@" + r.digest }

// parseReference accepts repo[:tag]@sha256:<digest> and refuses everything mutable.
func parseReference(ref string) (reference, error) {
	m := pinned.FindStringSubmatch(ref)
	if m == nil {
		if config.IsImageReference(ref) {
			return reference{}, fmt.Errorf("image %q is not pinned by digest: resolve its tag to a digest first (docker buildx imagetools inspect %s) and pass repo:tag@sha256:<digest>", ref, ref)
		}
		return reference{}, fmt.Errorf("image %q is not a reference of the form repo[:tag]@sha256:<64 hex digits>", ref)
	}
	r := reference{repo: m[1], digest: m[2]}
	if t := tagged.FindStringSubmatch(r.repo); t != nil {
		r.repo, r.tag = t[1], t[2]
	}
	if r.tag == "latest" {
		return reference{}, fmt.Errorf("image %q comes from the mutable tag latest: release a versioned tag", ref)
	}
	if !config.IsImageReference(r.String()) {
		return reference{}, fmt.Errorf("image %q: repository %q is not a valid name", ref, r.repo)
	}
	return r, nil
}

// imageLine finds the image key of a stack file: indentation, the value and any comment after it.
func (p *project) imageLine() *regexp.Regexp {
	return regexp.MustCompile(`^([ \t]+)` + regexp.QuoteMeta(p.name) + `:image:[ \t]*(.*?)[ \t]*$`)
}

// pinnedImage is a stack's image with its tag comment, which must be pinned by digest.
func (p *project) pinnedImage(stack string) (string, error) {
	raw, err := p.read(stack)
	if err != nil {
		return "", err
	}
	cfg, err := settings(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.stackFile(stack), err)
	}
	image, _ := cfg[p.name+":image"].(string)
	r, err := parseReference(image)
	if err != nil {
		return "", fmt.Errorf("cannot promote from %s: %w", stack, err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if m := p.imageLine().FindStringSubmatch(line); m != nil {
			if c := tagComment.FindStringSubmatch(m[2]); c != nil {
				r.repo += ":" + c[1]
			}
		}
	}
	return r.repo + "@" + r.digest, nil
}

// tagComment is the comment setimage writes after the value: "# tag <tag>".
var tagComment = regexp.MustCompile(`#\s*tag\s+([A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})\s*$`)

// setImage rewrites the image line of a stack's file (or adds one under config:) and checks that
// the file still parses to the same settings but for the image.
func (p *project) setImage(stack, ref string) error {
	r, err := parseReference(ref)
	if err != nil {
		return err
	}
	raw, err := p.read(stack)
	if err != nil {
		return err
	}
	edited, err := p.edit(raw, r)
	if err != nil {
		return fmt.Errorf("%s: %w", p.stackFile(stack), err)
	}
	before, err := settings(raw)
	if err != nil {
		return fmt.Errorf("%s does not parse: %w", p.stackFile(stack), err)
	}
	after, err := settings(edited)
	if err != nil {
		return fmt.Errorf("%s would not parse after the edit: %w", p.stackFile(stack), err)
	}
	key := p.name + ":image"
	if after[key] != r.String() {
		return fmt.Errorf("%s: the edit would set image to %v, not %s", p.stackFile(stack), after[key], r)
	}
	delete(before, key)
	delete(after, key)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		return fmt.Errorf("%s: the edit would change more than the image", p.stackFile(stack))
	}
	info, err := os.Stat(p.stackFile(stack))
	if err != nil {
		return err
	}
	return os.WriteFile(p.stackFile(stack), edited, info.Mode().Perm())
}

// edit replaces the value of the one image line, keeping its indentation; without one, it adds the
// key as the first entry under config:, indented as the next line is.
func (p *project) edit(raw []byte, r reference) ([]byte, error) {
	value := r.String()
	if r.tag != "" {
		value += "  # tag " + r.tag
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
