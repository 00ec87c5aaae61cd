package config_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/acme/ecs-api/config"
)

const migrateOn = `{"enabled":true,"command":["node","migrate-lock.js","node_modules/.bin/prisma","migrate","deploy"]}`

// TestMigrateRejectsBadInputNamingTheKey: each bad migrate setting is refused with an error that
// names its key and says what it got.
func TestMigrateRejectsBadInputNamingTheKey(t *testing.T) {
	grace := func(n int) string { return strconv.Itoa(n) }
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		key, got  string
	}{
		{name: "without a database", overrides: map[string]string{"migrate": migrateOn, "healthCheckGracePeriod": "180"},
			key: "migrate.enabled:", got: "database.enabled false"},
		{name: "no command", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true}`, "healthCheckGracePeriod": "180"},
			key: "migrate.command:", got: "(got [])"},
		{name: "empty command", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true,"command":[]}`, "healthCheckGracePeriod": "180"},
			key: "migrate.command:", got: "(got [])"},
		{name: "blank argument", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true,"command":["node"," "]}`, "healthCheckGracePeriod": "180"},
			key: "migrate.command:", got: `(got ["node" " "])`},
		{name: "timeout too short", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true,"command":["x"],"timeout":5}`},
			key: "migrate.timeout:", got: "(got 5)"},
		{name: "timeout zero", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true,"command":["x"],"timeout":0}`},
			key: "migrate.timeout:", got: "(got 0)"},
		{name: "timeout beyond a rollout", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true,"command":["x"],"timeout":3600}`, "healthCheckGracePeriod": "3700"},
			key: "migrate.timeout:", got: "(got 3600)"},
		{name: "grace period without room for the migration", overrides: map[string]string{"database": dbOn, "migrate": migrateOn},
			key: "migrate.timeout:", got: "healthCheckGracePeriod 60; raise healthCheckGracePeriod to at least " + grace(config.DefaultMigrateTimeout+config.MigrateBootAllowance)},
		{name: "grace period without room for the boot", overrides: map[string]string{"database": dbOn,
			"migrate": `{"enabled":true,"command":["x"],"timeout":300}`, "healthCheckGracePeriod": "300"},
			key: "migrate.timeout:", got: "(got 300)"},
		{name: "unknown field", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true,"command":["x"],"timeoutSeconds":60}`},
			key: "migrate:", got: "timeoutSeconds"},
		{name: "command as a string", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true,"command":"npx prisma migrate deploy"}`},
			key: "migrate.command:", got: "must be a list of strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m, err := loadConfig(t, "dev", tc.overrides)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.got) {
				t.Errorf("error does not name %s with %q:\n%v", tc.key, tc.got, err)
			}
			if !strings.Contains(err.Error(), `stack "dev"`) {
				t.Errorf("error does not name the stack:\n%v", err)
			}
			if len(m.Resources()) != 0 {
				t.Errorf("invalid config registered %d resources", len(m.Resources()))
			}
		})
	}
}

// TestMigrateAcceptsGoodInput: off by default, and on with a database, a command and a grace
// period that covers the timeout and the boot.
func TestMigrateAcceptsGoodInput(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		want      config.MigrateConfig
	}{
		{name: "off by default", want: config.MigrateConfig{Timeout: config.DefaultMigrateTimeout}},
		{name: "off without a database", overrides: map[string]string{"migrate": `{"enabled":false,"command":["x"]}`},
			want: config.MigrateConfig{Command: []string{"x"}, Timeout: config.DefaultMigrateTimeout}},
		{name: "default timeout", overrides: map[string]string{"database": dbOn, "migrate": migrateOn, "healthCheckGracePeriod": "180"},
			want: config.MigrateConfig{Enabled: true, Command: []string{"node", "migrate-lock.js", "node_modules/.bin/prisma", "migrate", "deploy"}, Timeout: 120}},
		{name: "shortest", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true,"command":["x"],"timeout":30}`, "healthCheckGracePeriod": "90"},
			want: config.MigrateConfig{Enabled: true, Command: []string{"x"}, Timeout: 30}},
		{name: "longest", overrides: map[string]string{"database": dbOn, "migrate": `{"enabled":true,"command":["x"],"timeout":600}`, "healthCheckGracePeriod": "660"},
			want: config.MigrateConfig{Enabled: true, Command: []string{"x"}, Timeout: 600}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := loadConfig(t, "dev", tc.overrides)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			got := cfg.Migrate
			if got.Enabled != tc.want.Enabled || got.Timeout != tc.want.Timeout || strings.Join(got.Command, "\x00") != strings.Join(tc.want.Command, "\x00") {
				t.Errorf("migrate %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestMigrateLimitsNestInsideECSs: ECS's startTimeout outlasts the command's limit and its kill,
// and even the longest allowed migration stays below the agent's limit on a dependency wait.
func TestMigrateLimitsNestInsideECSs(t *testing.T) {
	for timeout := config.MinMigrateTimeout; timeout <= config.MaxMigrateTimeout; timeout += 30 {
		start := config.MigrateStartTimeout(timeout)
		if start <= timeout+config.MigrateKillAfter {
			t.Errorf("timeout %d: startTimeout %d would cut the command before its own kill at %d", timeout, start, timeout+config.MigrateKillAfter)
		}
		if start > config.MaxDependencyWait {
			t.Errorf("timeout %d: startTimeout %d beyond the agent's %d", timeout, start, config.MaxDependencyWait)
		}
		if config.MigrateGracePeriod(timeout) > 7200 {
			t.Errorf("timeout %d needs a grace period beyond healthCheckGracePeriod's own limit", timeout)
		}
	}
}
