package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"
)

// JobConfig is one scheduled job (an element of key `jobs`): the app's image run once per schedule
// as its own ECS task, instead of an in-process cron that would fire in every replica.
type JobConfig struct {
	Name     string `json:"name"`
	Schedule string `json:"schedule"`
	Timezone string `json:"timezone"`
	// Command replaces the image's command, e.g. ["node", "dist/jobs/cleanup.js"].
	Command []string          `json:"command"`
	Env     map[string]string `json:"env"`
	// Timeout in seconds: the command runs under `timeout` (which the image must provide; Debian and
	// Alpine based images do), and the run as a whole, waiting for an instance included, times out
	// a little later, when its state machine stops the task it started. 0 runs it without either limit.
	Timeout int `json:"timeout"`
	// Retries of a failed run, with backoff: a task that exits non-zero (or hits its timeout), one
	// ECS stopped for want of capacity, or a RunTask that ECS refused for now.
	Retries int `json:"retries"`
	CPU     int `json:"cpu"`
	Memory  int `json:"memory"`
}

// Job defaults: the zone a schedule is read in, an hour's limit, two retries.
const (
	DefaultJobTimezone = "UTC"
	DefaultJobTimeout  = 3600
	DefaultJobRetries  = 2
	// MaxJobTimeout is a day: a longer job belongs in a worker or a batch system.
	MaxJobTimeout = 86400
	// MaxJobRetries bounds the retries: each waits twice as long as the one before, from a minute, so
	// five span about half an hour and more would run into the next day's schedule.
	MaxJobRetries = 5
)

// UnmarshalJSON fills a job's defaults and rejects unknown fields, so a typo is an error.
func (j *JobConfig) UnmarshalJSON(b []byte) error {
	type plain JobConfig
	p := plain{Timezone: DefaultJobTimezone, Timeout: DefaultJobTimeout, Retries: DefaultJobRetries}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*j = JobConfig(p)
	return nil
}

// WorkerConfig is an optional singleton service (key `worker`): a long-running consumer that must
// never run twice, so it has one task, no load balancer, and stops the old task before starting a new one.
type WorkerConfig struct {
	Enabled bool              `json:"enabled"`
	Command []string          `json:"command"`
	Env     map[string]string `json:"env"`
	CPU     int               `json:"cpu"`
	Memory  int               `json:"memory"`
}

// jobName is usable in schedule, task family and log stream names.
var jobName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

func validateJobs(c *Config, fail func(string, string, ...any)) {
	seen := map[string]bool{}
	for i, j := range c.Jobs {
		at := fmt.Sprintf("jobs[%d]", i)
		if j.Name != "" {
			at = fmt.Sprintf("jobs[%s]", j.Name)
		}
		if !jobName.MatchString(j.Name) {
			fail(at+".name", "must be 1-32 lowercase letters, digits and inner hyphens, usable in AWS resource names (got %q)", j.Name)
		}
		if seen[j.Name] {
			fail(at+".name", "is used by two jobs")
		}
		seen[j.Name] = true
		if err := ValidateSchedule(j.Schedule); err != nil {
			fail(at+".schedule", "%v (got %q)", err, j.Schedule)
		}
		if _, err := time.LoadLocation(j.Timezone); err != nil || j.Timezone == "" {
			fail(at+".timezone", "is not an IANA time zone (got %q)", j.Timezone)
		}
		if len(j.Command) == 0 {
			fail(at+".command", "is required: the command that runs the job, e.g. [\"node\", \"dist/jobs/cleanup.js\"]")
		}
		if j.Timeout != 0 && (j.Timeout < 60 || j.Timeout > MaxJobTimeout) {
			fail(at+".timeout", "must be between 60 and %d seconds, or 0 for no limit (got %d)", MaxJobTimeout, j.Timeout)
		}
		if j.Retries < 0 || j.Retries > MaxJobRetries {
			fail(at+".retries", "must be between 0 and %d (got %d)", MaxJobRetries, j.Retries)
		}
		validateTaskSize(c, at, j.CPU, j.Memory, fail)
		validateExtraEnv(c, at+".env", j.Env, fail)
	}
	if w := c.Worker; w.Enabled {
		if len(w.Command) == 0 {
			fail("worker.command", "is required: the command that runs the consumer")
		}
		validateTaskSize(c, "worker", w.CPU, w.Memory, fail)
		validateExtraEnv(c, "worker.env", w.Env, fail)
	}
}

// validateTaskSize checks an optional CPU/memory override (0 = the API's) against one instance.
func validateTaskSize(c *Config, at string, cpu, memory int, fail func(string, string, ...any)) {
	if cpu != 0 && (cpu < 128 || cpu > c.Cluster.Shape.CPUUnits()) {
		fail(at+".cpu", "must be between 128 and %d units, what one %s has (got %d)", c.Cluster.Shape.CPUUnits(), c.Cluster.InstanceType, cpu)
	}
	if memory != 0 && (memory < 128 || memory > c.Cluster.Shape.TaskMemoryMiB()) {
		fail(at+".memory", "must be between 128 and %d MiB, what one %s leaves for tasks (got %d)", c.Cluster.Shape.TaskMemoryMiB(), c.Cluster.InstanceType, memory)
	}
}

// validateExtraEnv applies the env rules to a job's or the worker's own variables.
func validateExtraEnv(c *Config, at string, env map[string]string, fail func(string, string, ...any)) {
	for _, name := range slices.Sorted(maps.Keys(env)) {
		switch {
		case !envName.MatchString(name):
			fail(at, "%q is not a valid environment variable name", name)
		case secretLookingName.MatchString(name):
			fail(at, "%q looks like a secret; use the top-level secrets", name)
		case name == c.Service.CronFlag:
			fail(at, "%q is set by the program (cronFlag)", name)
		}
		if _, dup := c.Service.Secrets[name]; dup {
			fail(at, "%q is also in secrets", name)
		}
	}
}
