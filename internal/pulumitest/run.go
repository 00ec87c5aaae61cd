package pulumitest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

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
	cfg = map[string]string{}
	for key, decl := range proj.Config {
		if decl.Default == nil {
			continue
		}
		if !strings.Contains(key, ":") {
			key = string(proj.Name) + ":" + key
		}
		cfg[key], err = configText(decl.Default)
		if err != nil {
			return "", nil, fmt.Errorf("Pulumi.yaml default of %s: %w", key, err)
		}
	}
	for key, value := range values {
		cfg[key.String()] = value
	}
	return string(proj.Name), cfg, nil
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
