package pulumitest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Run runs program under mocks with the given config (keys "<namespace>:<key>") and returns what it
// registered. The config is injected per run, not through PULUMI_CONFIG, so tests can run in parallel.
func Run(project, stack string, cfg map[string]string, program pulumi.RunFunc) (*Mocks, error) {
	m := &Mocks{Project: project, Stack: stack, Exports: map[string]any{}}
	withConfig := func(ri *pulumi.RunInfo) {
		ri.Config = cfg
	}
	// Stack outputs are not resources; await each export so tests can read its value.
	withExports := func(ctx *pulumi.Context) error {
		if err := program(ctx); err != nil {
			return err
		}
		for name, value := range ctx.GetCurrentExportMap() {
			result, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(value))
			if err != nil {
				return fmt.Errorf("export %s: %w", name, err)
			}
			m.Exports[name] = result.Value
		}
		return nil
	}
	err := pulumi.RunErr(withExports, pulumi.WithMocks(project, stack, m), withConfig)
	return m, err
}

// StackConfig returns a stack's configuration the way the Pulumi CLI hands it to the program: the
// project's declared defaults from Pulumi.yaml, overridden by Pulumi.<stack>.yaml, objects as JSON.
// Like the CLI (pkg/workspace mergeConfig), it fails when the stack lacks a declared key that has
// no default, or sets a value of the wrong type.
func StackConfig(projectDir, stack string) (project string, cfg map[string]string, err error) {
	proj, err := workspace.LoadProject(filepath.Join(projectDir, "Pulumi.yaml"))
	if err != nil {
		return "", nil, err
	}
	ps, err := workspace.LoadProjectStack(nil, proj, filepath.Join(projectDir, "Pulumi."+stack+".yaml"))
	if err != nil {
		return "", nil, err
	}
	values, err := ps.Config.Decrypt(config.NopDecrypter)
	if err != nil {
		return "", nil, fmt.Errorf("stack %s: %w (tests cannot decrypt secure values)", stack, err)
	}
	cfg, err = defaults(proj)
	if err != nil {
		return "", nil, err
	}
	var missing []string
	for _, name := range sortedKeys(proj.Config) {
		decl := proj.Config[name]
		key, err := configKey(proj, name)
		if err != nil {
			return "", nil, err
		}
		value, found, err := ps.Config.Get(key, true)
		if err != nil {
			return "", nil, err
		}
		if !found {
			if decl.Default == nil && decl.Value == nil && key.Namespace() == string(proj.Name) {
				missing = append(missing, name)
			}
			continue
		}
		if decl.IsExplicitlyTyped() {
			text, err := value.Value(config.NopDecrypter)
			if err != nil {
				return "", nil, err
			}
			var content any = text
			if value.Object() {
				if err := json.Unmarshal([]byte(text), &content); err != nil {
					return "", nil, err
				}
			}
			if !workspace.ValidateConfigValue(*decl.Type, decl.Items, content) {
				return "", nil, fmt.Errorf("Stack '%s' with configuration key '%s' must be of type '%s'",
					stack, name, workspace.InferFullTypeName(*decl.Type, decl.Items))
			}
		}
	}
	if len(missing) > 0 {
		return "", nil, fmt.Errorf("Stack '%s' is missing configuration value(s) %s", stack, strings.Join(missing, ", "))
	}
	for key, value := range values {
		cfg[key.String()] = value
	}
	return string(proj.Name), cfg, nil
}

// ConfigWith is Pulumi.yaml's defaults plus a region and an image, the two values every stack sets,
// with the project's keys replaced by overrides ("" deletes a key; keys with ":" are taken as given).
func ConfigWith(projectDir, project, image string, overrides map[string]string) (map[string]string, error) {
	cfg, err := ProjectDefaults(projectDir)
	if err != nil {
		return nil, err
	}
	cfg["aws:region"] = Region
	cfg[project+":image"] = image
	for k, v := range overrides {
		key := k
		if !strings.Contains(k, ":") {
			key = project + ":" + k
		}
		if v == "" {
			delete(cfg, key)
			continue
		}
		cfg[key] = v
	}
	return cfg, nil
}

// MustConfigWith is ConfigWith for tests: a broken Pulumi.yaml fails the test.
func MustConfigWith(t testing.TB, projectDir, project, image string, overrides map[string]string) map[string]string {
	t.Helper()
	cfg, err := ConfigWith(projectDir, project, image, overrides)
	if err != nil {
		t.Fatalf("Pulumi.yaml: %v", err)
	}
	return cfg
}

// StackFiles names the stacks of every Pulumi.<stack>.yaml in projectDir; a project with fewer than
// two fails the test, since the tests are meant to cover dev and prod at least.
func StackFiles(t testing.TB, projectDir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(projectDir, "Pulumi.*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("stack files %v: %v", files, err)
	}
	var stacks []string
	for _, f := range files {
		stacks = append(stacks, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	return stacks
}

// ProjectDefaults returns the defaults Pulumi.yaml declares, keyed "<namespace>:<key>".
func ProjectDefaults(projectDir string) (map[string]string, error) {
	proj, err := workspace.LoadProject(filepath.Join(projectDir, "Pulumi.yaml"))
	if err != nil {
		return nil, err
	}
	return defaults(proj)
}

func defaults(proj *workspace.Project) (map[string]string, error) {
	cfg := map[string]string{}
	for name, decl := range proj.Config {
		if decl.Default == nil {
			continue
		}
		key, err := configKey(proj, name)
		if err != nil {
			return nil, err
		}
		if cfg[key.String()], err = configText(decl.Default); err != nil {
			return nil, fmt.Errorf("Pulumi.yaml default of %s: %w", name, err)
		}
	}
	return cfg, nil
}

// configKey namespaces a Pulumi.yaml key with the project unless it names its own namespace.
func configKey(proj *workspace.Project, name string) (config.Key, error) {
	if !strings.Contains(name, ":") {
		name = string(proj.Name) + ":" + name
	}
	return config.ParseKey(name)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// configText renders a YAML default as the CLI passes it: scalars as text, the rest as JSON.
func configText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// DependsOn reports whether the resource names other among its dependencies.
func (r *Resource) DependsOn(other *Resource) bool {
	for _, d := range r.Dependencies {
		if d == other.URN {
			return true
		}
	}
	return false
}
