package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	// Time zones of scheduled actions are validated without relying on the machine's zoneinfo.
	_ "time/tzdata"
)

// AutoscalingConfig is Application Auto Scaling on the service's task count (key `autoscaling`).
type AutoscalingConfig struct {
	Enabled  bool `json:"enabled"`
	MinTasks int  `json:"minTasks"`
	MaxTasks int  `json:"maxTasks"`
	// Target tracking policies; 0 switches one off.
	CPUTarget         float64 `json:"cpuTarget"`
	MemoryTarget      float64 `json:"memoryTarget"`
	RequestsPerTarget float64 `json:"requestsPerTarget"`
	// Scale out quickly, scale in slowly: a spike should never wait for a cooldown.
	ScaleOutCooldown int                `json:"scaleOutCooldown"`
	ScaleInCooldown  int                `json:"scaleInCooldown"`
	Scheduled        []ScheduledScaling `json:"scheduled"`
}

// ScheduledScaling changes the task bounds at a known time, e.g. before a sale.
type ScheduledScaling struct {
	Name     string `json:"name"`
	Schedule string `json:"schedule"`
	Timezone string `json:"timezone"`
	MinTasks int    `json:"minTasks"`
	MaxTasks int    `json:"maxTasks"`
}

// CapacityConfig is how EC2 capacity follows the tasks (key `capacity`).
type CapacityConfig struct {
	// TargetCapacity is the utilisation managed scaling aims for; below 100 keeps spare instances.
	TargetCapacity int            `json:"targetCapacity"`
	MinScalingStep int            `json:"minScalingStep"`
	MaxScalingStep int            `json:"maxScalingStep"`
	InstanceWarmup int            `json:"instanceWarmup"`
	WarmPool       WarmPoolConfig `json:"warmPool"`
	Spot           SpotConfig     `json:"spot"`
}

// WarmPoolConfig keeps stopped, pre-initialised instances ready for a fast scale-out.
type WarmPoolConfig struct {
	Enabled bool `json:"enabled"`
	MinSize int  `json:"minSize"`
	// MaxPreparedCapacity caps in-service plus warm instances; 0 means the group's maximum.
	MaxPreparedCapacity int `json:"maxPreparedCapacity"`
}

// SpotConfig adds a second capacity provider over Spot instances of several types.
type SpotConfig struct {
	Enabled       bool     `json:"enabled"`
	InstanceTypes []string `json:"instanceTypes"`
	MaxInstances  int      `json:"maxInstances"`
	// OnDemandBase tasks always run on on-demand capacity; the rest split by weight.
	OnDemandBase   int `json:"onDemandBase"`
	OnDemandWeight int `json:"onDemandWeight"`
	SpotWeight     int `json:"spotWeight"`
}

// AlarmsConfig are CloudWatch alarms on the service, optionally rolling a deployment back (key `alarms`).
type AlarmsConfig struct {
	Enabled           bool    `json:"enabled"`
	Rollback          bool    `json:"rollback"`
	Target5xxPercent  float64 `json:"target5xxPercent"`
	P99LatencySeconds float64 `json:"p99LatencySeconds"`
	UnhealthyHosts    int     `json:"unhealthyHosts"`
	PeriodSeconds     int     `json:"periodSeconds"`
	EvaluationPeriods int     `json:"evaluationPeriods"`
}

// Defaults of the object keys' fields; a stack's object replaces Pulumi.yaml's wholesale, so
// per-field defaults must live here.
func defaultAutoscaling() AutoscalingConfig {
	return AutoscalingConfig{CPUTarget: 60, RequestsPerTarget: 0, ScaleOutCooldown: 60, ScaleInCooldown: 300}
}

func defaultCapacity() CapacityConfig {
	return CapacityConfig{
		TargetCapacity: 100, MinScalingStep: 1, MaxScalingStep: 10, InstanceWarmup: 300,
		Spot: SpotConfig{OnDemandBase: 2, OnDemandWeight: 1, SpotWeight: 1},
	}
}

func defaultAlarms() AlarmsConfig {
	return AlarmsConfig{Rollback: true, Target5xxPercent: 5, P99LatencySeconds: 2, UnhealthyHosts: 1, PeriodSeconds: 60, EvaluationPeriods: 3}
}

var (
	scheduleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	rateSchedule = regexp.MustCompile(`^rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)$`)
	atSchedule   = regexp.MustCompile(`^at\(([0-9T:-]+)\)$`)
	cronSchedule = regexp.MustCompile(`^cron\((.*)\)$`)
)

// ValidateSchedule checks an EventBridge/Application Auto Scaling schedule expression:
// cron(...) with six fields, rate(n unit) with a positive n, or at(yyyy-mm-ddThh:mm:ss).
func ValidateSchedule(expr string) error {
	if m := rateSchedule.FindStringSubmatch(expr); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 {
			return fmt.Errorf("rate must be a positive number")
		}
		if singular := !strings.HasSuffix(m[2], "s"); singular != (n == 1) {
			return fmt.Errorf("rate unit must be %q for 1 and plural otherwise", strings.TrimSuffix(m[2], "s"))
		}
		return nil
	}
	if m := atSchedule.FindStringSubmatch(expr); m != nil {
		if _, err := time.Parse("2006-01-02T15:04:05", m[1]); err != nil {
			return fmt.Errorf("at() needs yyyy-mm-ddThh:mm:ss")
		}
		return nil
	}
	if m := cronSchedule.FindStringSubmatch(expr); m != nil {
		fields := strings.Fields(m[1])
		if len(fields) != 6 {
			return fmt.Errorf("cron needs 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(fields))
		}
		dom, dow := fields[2], fields[4]
		if (dom == "?") == (dow == "?") {
			return fmt.Errorf("cron needs ? in exactly one of day-of-month and day-of-week")
		}
		for i, f := range fields {
			if !cronField.MatchString(f) {
				return fmt.Errorf("cron field %d %q has characters cron does not allow", i+1, f)
			}
		}
		return nil
	}
	return fmt.Errorf("must be cron(...), rate(...) or at(...)")
}

var cronField = regexp.MustCompile(`^[0-9A-Za-z*?,/#L-]+$`)

func validateAutoscaling(c *Config, fail func(string, string, ...any)) {
	a := c.Autoscaling
	if !a.Enabled {
		return
	}
	const key = "autoscaling"
	if a.MinTasks < 1 {
		fail(key+".minTasks", "must be at least 1 (got %d)", a.MinTasks)
	}
	if a.MaxTasks < a.MinTasks {
		fail(key+".maxTasks", "must be at least minTasks (got %d < %d)", a.MaxTasks, a.MinTasks)
	}
	if d := c.Service.DesiredCount; d < a.MinTasks || d > a.MaxTasks {
		fail("desiredCount", "must be between autoscaling.minTasks and autoscaling.maxTasks (got %d, range %d-%d)", d, a.MinTasks, a.MaxTasks)
	}
	if a.CPUTarget == 0 && a.MemoryTarget == 0 && a.RequestsPerTarget == 0 && len(a.Scheduled) == 0 {
		fail(key, "is enabled but has no cpuTarget, memoryTarget, requestsPerTarget or scheduled action")
	}
	for name, v := range map[string]float64{"cpuTarget": a.CPUTarget, "memoryTarget": a.MemoryTarget} {
		if v != 0 && (v < 10 || v > 90) {
			fail(key+"."+name, "must be a utilisation percentage between 10 and 90, or 0 for off (got %v)", v)
		}
	}
	if a.RequestsPerTarget < 0 || a.RequestsPerTarget > 100000 {
		fail(key+".requestsPerTarget", "must be between 1 and 100000 requests per task per minute, or 0 for off (got %v)", a.RequestsPerTarget)
	}
	if a.ScaleOutCooldown < 0 || a.ScaleOutCooldown > 3600 {
		fail(key+".scaleOutCooldown", "must be between 0 and 3600 seconds (got %d)", a.ScaleOutCooldown)
	}
	if a.ScaleInCooldown < 0 || a.ScaleInCooldown > 3600 {
		fail(key+".scaleInCooldown", "must be between 0 and 3600 seconds (got %d)", a.ScaleInCooldown)
	}
	if a.ScaleOutCooldown > a.ScaleInCooldown {
		fail(key+".scaleOutCooldown", "must not exceed scaleInCooldown: scaling out must be the faster direction (got %d > %d)", a.ScaleOutCooldown, a.ScaleInCooldown)
	}
	seen := map[string]bool{}
	for i, s := range a.Scheduled {
		at := fmt.Sprintf("%s.scheduled[%d]", key, i)
		if s.Name != "" {
			at = fmt.Sprintf("%s.scheduled[%s]", key, s.Name)
		}
		if !scheduleName.MatchString(s.Name) {
			fail(at+".name", "must be 1-64 letters, digits, - or _ (got %q)", s.Name)
		}
		if seen[s.Name] {
			fail(at+".name", "is used twice")
		}
		seen[s.Name] = true
		if err := ValidateSchedule(s.Schedule); err != nil {
			fail(at+".schedule", "%v (got %q)", err, s.Schedule)
		}
		if s.Timezone == "" {
			fail(at+".timezone", "is required, e.g. UTC or America/New_York")
		} else if _, err := time.LoadLocation(s.Timezone); err != nil {
			fail(at+".timezone", "is not an IANA time zone (got %q)", s.Timezone)
		}
		if s.MinTasks < 1 || s.MaxTasks < s.MinTasks {
			fail(at, "needs 1 <= minTasks <= maxTasks (got %d-%d)", s.MinTasks, s.MaxTasks)
		}
	}
}

func validateCapacity(c *Config, fail func(string, string, ...any)) {
	p := c.Cluster.Capacity
	const key = "capacity"
	if p.TargetCapacity < 1 || p.TargetCapacity > 100 {
		fail(key+".targetCapacity", "must be a percentage between 1 and 100 (got %d)", p.TargetCapacity)
	}
	if p.MinScalingStep < 1 || p.MinScalingStep > 10000 {
		fail(key+".minScalingStep", "must be between 1 and 10000 (got %d)", p.MinScalingStep)
	}
	if p.MaxScalingStep < p.MinScalingStep || p.MaxScalingStep > 10000 {
		fail(key+".maxScalingStep", "must be between minScalingStep and 10000 (got %d)", p.MaxScalingStep)
	}
	if p.InstanceWarmup < 0 || p.InstanceWarmup > 10000 {
		fail(key+".instanceWarmup", "must be between 0 and 10000 seconds (got %d)", p.InstanceWarmup)
	}
	if w := p.WarmPool; w.Enabled {
		if w.MinSize < 0 || w.MinSize > c.Cluster.MaxInstances {
			fail(key+".warmPool.minSize", "must be between 0 and maxInstances (got %d)", w.MinSize)
		}
		if w.MaxPreparedCapacity != 0 && w.MaxPreparedCapacity < c.Cluster.MinInstances {
			fail(key+".warmPool.maxPreparedCapacity", "must be 0 (the group's maximum) or at least minInstances (got %d)", w.MaxPreparedCapacity)
		}
	}
	s := p.Spot
	if !s.Enabled {
		return
	}
	if len(s.InstanceTypes) < 2 {
		fail(key+".spot.instanceTypes", "needs at least two instance types so one Spot pool running dry does not stop scaling (got %d)", len(s.InstanceTypes))
	}
	for _, it := range s.InstanceTypes {
		shape, err := ParseInstanceType(it)
		switch {
		case err != nil:
			fail(key+".spot.instanceTypes", "%s: %v", it, err)
		case shape.Arm64 != c.Cluster.Shape.Arm64:
			fail(key+".spot.instanceTypes", "%s has a different CPU architecture than instanceType %s: one image cannot run on both", it, c.Cluster.InstanceType)
		case shape.TaskMemoryMiB() < c.Service.Memory || shape.CPUUnits() < c.Service.CPU:
			fail(key+".spot.instanceTypes", "%s cannot hold one task of %d MiB / %d CPU units", it, c.Service.Memory, c.Service.CPU)
		}
	}
	if s.MaxInstances < 1 {
		fail(key+".spot.maxInstances", "must be at least 1 (got %d)", s.MaxInstances)
	}
	if s.OnDemandBase < 0 {
		fail(key+".spot.onDemandBase", "must not be negative (got %d)", s.OnDemandBase)
	}
	if s.OnDemandWeight < 0 || s.SpotWeight < 0 || s.OnDemandWeight+s.SpotWeight == 0 || s.OnDemandWeight > 1000 || s.SpotWeight > 1000 {
		fail(key+".spot", "onDemandWeight and spotWeight must be 0-1000 and not both 0 (got %d and %d)", s.OnDemandWeight, s.SpotWeight)
	}
}

func validateAlarms(a AlarmsConfig, fail func(string, string, ...any)) {
	if !a.Enabled {
		return
	}
	const key = "alarms"
	if a.Target5xxPercent <= 0 || a.Target5xxPercent > 100 {
		fail(key+".target5xxPercent", "must be a percentage above 0 and at most 100 (got %v)", a.Target5xxPercent)
	}
	if a.P99LatencySeconds <= 0 || a.P99LatencySeconds > 4000 {
		fail(key+".p99LatencySeconds", "must be above 0 and at most the ALB's 4000 s idle limit (got %v)", a.P99LatencySeconds)
	}
	if a.UnhealthyHosts < 1 {
		fail(key+".unhealthyHosts", "must be at least 1 (got %d)", a.UnhealthyHosts)
	}
	if a.PeriodSeconds != 10 && a.PeriodSeconds != 30 && (a.PeriodSeconds < 60 || a.PeriodSeconds%60 != 0) {
		fail(key+".periodSeconds", "must be 10, 30 or a multiple of 60 (got %d)", a.PeriodSeconds)
	}
	if a.EvaluationPeriods < 1 || a.PeriodSeconds*a.EvaluationPeriods > 86400 {
		fail(key+".evaluationPeriods", "must be at least 1 and span at most a day (got %d x %d s)", a.EvaluationPeriods, a.PeriodSeconds)
	}
}

// capacityTasks is how many tasks fit on all instances at their maximum.
func capacityTasks(c *Config) int {
	perInstance := func(shape InstanceShape) int {
		return min(shape.TaskMemoryMiB()/c.Service.Memory, shape.CPUUnits()/c.Service.CPU)
	}
	total := perInstance(c.Cluster.Shape) * c.Cluster.MaxInstances
	if s := c.Cluster.Capacity.Spot; s.Enabled {
		smallest := -1
		for _, it := range s.InstanceTypes {
			if shape, err := ParseInstanceType(it); err == nil {
				if n := perInstance(shape); smallest < 0 || n < smallest {
					smallest = n
				}
			}
		}
		total += max(smallest, 0) * s.MaxInstances
	}
	return total
}
