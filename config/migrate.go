package config

import (
	"fmt"
	"strings"
)

// MigrateConfig runs the app's database migrations before each API task serves (key `migrate`): a
// non-essential container of the API's task definition, the app's image with this command, that the
// app's container waits on (dependsOn SUCCESS). Jobs and the worker never run it.
type MigrateConfig struct {
	Enabled bool `json:"enabled"`
	// Command runs the migrations and exits 0, e.g. ["node", "migrate-lock.js", "node_modules/.bin/prisma",
	// "migrate", "deploy"]. Every new task runs it, several at once during a rollout, so it must take a
	// lock that waits (see docs/data.md, Database migrations).
	Command []string `json:"command"`
	// Timeout in seconds: the command runs under `timeout` (which the image must provide, as for jobs),
	// and a migration still running then fails its task, whose app never starts.
	Timeout int `json:"timeout"`
}

// Migration limits, in seconds.
const (
	DefaultMigrateTimeout = 120
	// MinMigrateTimeout leaves a no-op run room for the runtime's start, the connection and a wait for
	// another task's lock.
	MinMigrateTimeout = 30
	// MaxMigrateTimeout keeps a migration inside a rollout: the deploy workflow's verify waits 15
	// minutes in dev and 20 in prod for the whole rollout (pull, migration, boot, health checks,
	// draining). A longer change (a backfill) belongs in a job, after an expanding migration.
	MaxMigrateTimeout = 600
	// MigrateKillAfter is `timeout -k`: SIGKILL this long after the SIGTERM at the limit, as for jobs.
	MigrateKillAfter = 30
	// MigrateStartMargin is added on top of the timeout and the kill for the container's startTimeout,
	// ECS's own limit, so that ECS never cuts a migration the command's limit allows.
	MigrateStartMargin = 30
	// MigrateBootAllowance is what healthCheckGracePeriod must keep for the app's own boot after a
	// migration of the whole timeout: Pulumi.yaml's default grace period, the app's boot without one.
	MigrateBootAllowance = 60
	// MaxDependencyWait is how long the ECS agent lets a container wait on another: a task whose
	// dependency runs past 3 hours is stopped (aws/containers-roadmap#1532, the agent's task cleanup).
	MaxDependencyWait = 3 * 3600
)

// MigrateStartTimeout is the migrate container's startTimeout: how long, from its start, the app's
// container waits for it to succeed before ECS gives up and the task stops. It outlasts the command's
// own limit and the kill after it, so a migration within migrate.timeout is never cut by ECS.
func MigrateStartTimeout(timeout int) int { return timeout + MigrateKillAfter + MigrateStartMargin }

// MigrateGracePeriod is the least healthCheckGracePeriod a migration of timeout seconds needs.
func MigrateGracePeriod(timeout int) int { return timeout + MigrateBootAllowance }

func defaultMigrate() MigrateConfig { return MigrateConfig{Timeout: DefaultMigrateTimeout} }

func validateMigrate(c *Config, fail func(string, string, ...any)) {
	m := c.Migrate
	if !m.Enabled {
		return
	}
	if !c.Database.Enabled {
		fail("migrate.enabled", "needs database.enabled: the stack has no database to migrate (got migrate.enabled true, database.enabled false)")
	}
	if len(m.Command) == 0 {
		fail("migrate.command", "is required: the command that applies the migrations and exits, e.g. [\"node\", \"migrate-lock.js\", \"node_modules/.bin/prisma\", \"migrate\", \"deploy\"] (got [])")
	}
	for i, arg := range m.Command {
		if strings.TrimSpace(arg) == "" {
			fail("migrate.command", "element %d is empty (got %q)", i, m.Command)
			break
		}
	}
	if m.Timeout < MinMigrateTimeout || m.Timeout > MaxMigrateTimeout {
		fail("migrate.timeout", "must be between %d and %d seconds: a rollout waits for it (got %d)", MinMigrateTimeout, MaxMigrateTimeout, m.Timeout)
		return
	}
	if start := MigrateStartTimeout(m.Timeout); start > MaxDependencyWait {
		fail("migrate.timeout", "needs a container startTimeout of %d s, beyond the ECS agent's %d s (got %d)", start, MaxDependencyWait, m.Timeout)
	}
	if grace := c.Service.HealthCheckGracePeriod; grace < MigrateGracePeriod(m.Timeout) {
		fail("migrate.timeout", "%s plus %d s for the app's boot after it do not fit in healthCheckGracePeriod %d; raise healthCheckGracePeriod to at least %d or lower migrate.timeout (got %d)",
			fmt.Sprintf("%d s of migration", m.Timeout), MigrateBootAllowance, grace, MigrateGracePeriod(m.Timeout), m.Timeout)
	}
}
