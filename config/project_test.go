package config_test

// The stack's settings as the Pulumi CLI, the stack files and the docs see them.

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"gopkg.in/yaml.v3"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/internal/docs"
	"github.com/acme/ecs-api/internal/pulumitest"
)

// stackFiles names the stacks of every Pulumi.<stack>.yaml in the project.
func stackFiles(t *testing.T) []string { return pulumitest.StackFiles(t, "..") }

// TestConfigBuildsWithoutTheSDKs keeps this package small: tools and the fuzzer that only need the
// settings must not compile pulumi-aws or pulumi-awsx, nor the Pulumi SDK and its gRPC stack, which
// `go test -fuzz` would otherwise instrument and recompile on every fresh machine.
func TestConfigBuildsWithoutTheSDKs(t *testing.T) {
	for _, args := range [][]string{{"list", "-deps", "."}, {"list", "-deps", "-test", "./fuzz"}} {
		out, err := exec.Command("go", args...).Output()
		if err != nil {
			t.Fatalf("go %v: %v", args, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go %v listed %d packages", args, len(deps))
		}
		for _, dep := range deps {
			if strings.Contains(dep, "github.com/pulumi/") || strings.Contains(dep, "google.golang.org/grpc") {
				t.Errorf("go %v: depends on %s", args, dep)
			}
		}
	}
}

// TestConfigurationPageDocumentsEveryKey keeps the configuration table complete: a row for every key
// the program reads, with its type, its default, what it means and what validation refuses.
func TestConfigurationPageDocumentsEveryKey(t *testing.T) {
	page, err := docs.Read("..", "docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		// Cells split on the '|' that are not escaped as \|.
		cells := strings.Split(strings.ReplaceAll(strings.Trim(line, "| "), `\|`, "\x00"), " | ")
		key := strings.Trim(cells[0], "`")
		rows[key] = cells
	}
	for _, key := range append([]string{"aws:region"}, config.Keys...) {
		cells, ok := rows[key]
		switch {
		case !ok:
			t.Errorf("docs/configuration.md's table lacks %s", key)
		case len(cells) != 5:
			t.Errorf("docs/configuration.md: the row of %s has %d cells, want key, type, default, meaning and what is refused", key, len(cells))
		case strings.TrimSpace(cells[2]) == "" || strings.TrimSpace(cells[4]) == "":
			t.Errorf("docs/configuration.md: the row of %s states no default or nothing it refuses: %q", key, cells)
		}
	}
}

// TestPulumiYamlDeclaresEveryKey keeps Pulumi.yaml (the CLI's view and the defaults) and the loader in step.
func TestPulumiYamlDeclaresEveryKey(t *testing.T) {
	proj, err := workspace.LoadProject("../Pulumi.yaml")
	if err != nil {
		t.Fatalf("Pulumi.yaml does not validate: %v", err)
	}
	declared := map[string]bool{}
	for key, decl := range proj.Config {
		declared[key] = true
		if decl.Description == "" || decl.Type == nil || *decl.Type == "" {
			t.Errorf("Pulumi.yaml: %s needs a type and a description", key)
		}
	}
	read := map[string]bool{}
	for _, key := range config.Keys {
		read[key] = true
		if !declared[key] {
			t.Errorf("the program reads %s but Pulumi.yaml does not declare it", key)
		}
	}
	for key := range declared {
		if !read[key] {
			t.Errorf("Pulumi.yaml declares %s but the program never reads it", key)
		}
	}
	if proj.Runtime.Options()["buildTarget"] == nil {
		t.Error("Pulumi.yaml sets no runtime buildTarget: every preview relinks the program")
	}
}

// TestStackFilesUseOnlyKnownKeys catches typos such as desiredcount, which Pulumi would silently ignore.
func TestStackFilesUseOnlyKnownKeys(t *testing.T) {
	known := map[string]bool{"aws:region": true}
	for _, key := range config.Keys {
		known["ecs-api:"+key] = true
	}
	for _, stack := range stackFiles(t) {
		file := "Pulumi." + stack + ".yaml"
		_, cfg, err := pulumitest.StackConfig("..", stack)
		if err != nil {
			t.Fatal(err)
		}
		for key := range cfg {
			if !known[key] {
				t.Errorf("%s sets unknown key %s", file, key)
			}
		}
	}
}

// TestDocsExamplesAreValidConfig parses every YAML example of stack config in README.md and the
// pages under docs/ and validates it on top of the prod stack, so the documentation cannot drift
// from the program.
func TestDocsExamplesAreValidConfig(t *testing.T) {
	_, prod, err := pulumitest.StackConfig("..", "prod")
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]int{}
	for _, name := range append([]string{"README.md"}, prefixed("docs/", docs.Pages)...) {
		text, err := docs.Read("..", name)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range strings.Split(text, "```yaml\n")[1:] {
			block = block[:strings.Index(block, "```")]
			if !strings.Contains(block, "ecs-api:") {
				continue
			}
			var values map[string]any
			if err := yaml.Unmarshal([]byte(block), &values); err != nil {
				t.Errorf("%s: example does not parse: %v\n%s", name, err, block)
				continue
			}
			cfg := map[string]string{}
			for k, v := range prod {
				cfg[k] = v
			}
			for k, v := range values {
				if !strings.HasPrefix(k, "ecs-api:") {
					t.Errorf("%s: example sets %s, not a key of this project", name, k)
				}
				if s, ok := v.(string); ok {
					cfg[k] = s
					continue
				}
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				cfg[k] = string(b)
			}
			get := func(key string) string { return cfg["ecs-api:"+key] }
			if _, err := config.ParseConfig("ecs-api", "prod", "us-east-1", get); err != nil {
				t.Errorf("%s: example is not valid config: %v\n%s", name, err, block)
			}
			checked[name]++
		}
	}
	for _, page := range []string{"docs/scaling.md", "docs/data.md", "docs/jobs.md", "docs/domain.md"} {
		if checked[page] == 0 {
			t.Errorf("checked no example on %s, which shows its keys in one", page)
		}
	}
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}
