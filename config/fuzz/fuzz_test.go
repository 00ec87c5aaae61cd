// Package fuzz fuzzes the config loader. It is a package of its own so that its test binary, which
// `go test -fuzz` builds with every dependency instrumented, holds nothing but the config package:
// no Pulumi SDK, no AWS SDK.
package fuzz_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/acme/ecs-api/config"
)

// FuzzParseConfig feeds arbitrary values to one config key at a time (and to the region): any
// input must give a valid config or an error, never a panic. The seed corpus is every key with the
// values of the real stack files and the values of the table tests' edge cases.
func FuzzParseConfig(f *testing.F) {
	dev, err := stackValues("dev")
	if err != nil {
		f.Fatal(err)
	}
	prod, err := stackValues("prod")
	if err != nil {
		f.Fatal(err)
	}
	// The seeds start from the real stacks, which must be valid as they are.
	for stack, values := range map[string]map[string]string{"dev": dev, "prod": prod} {
		if _, err := config.ParseConfig("ecs-api", stack, values["aws:region"], func(k string) string { return values["ecs-api:"+k] }); err != nil {
			f.Fatalf("the %s stack file read for seeds does not validate: %v", stack, err)
		}
	}
	for i, key := range config.Keys {
		f.Add(uint8(i), dev["ecs-api:"+key], "dev", "us-east-1")
		f.Add(uint8(i), prod["ecs-api:"+key], "prod", "eu-west-1")
	}
	for _, edge := range []string{"", "0", "-1", "99999999999999999999", "1e3", "true", "{}", "[]", "null",
		`{"enabled":true}`, `[{"name":"a"}]`, `{"enabled":true,"scheduled":[{}]}`, "cron(", "rate(0 minutes)",
		"10.0.0.0/33", "arn:aws:acm", "m6i.", ".large", "t3.small", "\x00", "ü", strings.Repeat("a", 300)} {
		for i := range config.Keys {
			f.Add(uint8(i), edge, "prod", "us-east-1")
		}
	}
	f.Fuzz(func(t *testing.T, index uint8, value, stack, region string) {
		key := config.Keys[int(index)%len(config.Keys)]
		base := dev
		if stack == "prod" {
			base = prod
		}
		get := func(k string) string {
			if k == key {
				return value
			}
			return base["ecs-api:"+k]
		}
		cfg, err := config.ParseConfig("ecs-api", stack, region, get)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("%s=%q: config %v and error %v; want exactly one", key, value, cfg != nil, err)
		}
		if err != nil && !strings.Contains(err.Error(), "invalid configuration") {
			t.Fatalf("%s=%q: error %v does not say the configuration is invalid", key, value, err)
		}
	})
}

// stackValues is a stack's config as the CLI hands it to the program, closely enough for seeds:
// Pulumi.yaml's defaults, then Pulumi.<stack>.yaml's values, scalars as text and objects as JSON.
func stackValues(stack string) (map[string]string, error) {
	var project struct {
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	for path, into := range map[string]any{"../../Pulumi.yaml": &project, "../../Pulumi." + stack + ".yaml": &file} {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(raw, into); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	out := map[string]string{}
	set := func(key string, v any) {
		switch v := v.(type) {
		case nil:
		case string:
			out[key] = v
		case bool, int, float64:
			out[key] = fmt.Sprint(v)
		default:
			b, _ := json.Marshal(v)
			out[key] = string(b)
		}
	}
	for key, decl := range project.Config {
		set("ecs-api:"+key, decl.Default)
	}
	for key, v := range file.Config {
		set(key, v)
	}
	return out, nil
}
