package config_test

import (
	"strings"
	"testing"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/internal/pulumitest"
)

// FuzzParseConfig feeds arbitrary values to one config key at a time (and to the region): any
// input must give a valid config or an error, never a panic. The seed corpus is every key with the
// values of the real stack files and the values of the table tests' edge cases.
func FuzzParseConfig(f *testing.F) {
	_, dev, err := pulumitest.StackConfig("..", "dev")
	if err != nil {
		f.Fatal(err)
	}
	_, prod, err := pulumitest.StackConfig("..", "prod")
	if err != nil {
		f.Fatal(err)
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
