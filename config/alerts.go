package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// AlertsConfig tells people when the stack breaks (key `alerts`): every alarm, failed or rolled
// back deployments, unexpected task stops, failed job runs, the jobs' dead-letter queue and the
// database's and cache's own events reach an SNS topic the stack owns, and from there the e-mail
// addresses listed and, optionally, an existing topic (AWS Chatbot, a pager).
type AlertsConfig struct {
	Enabled bool     `json:"enabled"`
	Emails  []string `json:"emails"`
	// TopicArn is an existing SNS topic that receives every alert besides the stack's own. It must
	// be in the stack's region and account: EventBridge "supports sending events to cross-account
	// targets in the same Region" only, and only through an execution role and a resource policy
	// the stack does not create ("Sending events to an AWS service in another account",
	// EventBridge User Guide). Its policy (and key, if encrypted) must admit CloudWatch and
	// EventBridge.
	TopicArn   string           `json:"topicArn"`
	Thresholds AlertsThresholds `json:"thresholds"`
}

// AlertsThresholds are the alarms' trigger points beyond the deployment alarms.
type AlertsThresholds struct {
	// TaskShortfallMinutes: a service running fewer tasks than it wants for this long.
	TaskShortfallMinutes int `json:"taskShortfallMinutes"`
	// CapacityWaitMinutes: tasks waiting for instances (reservation above 100 %) for this long, which
	// outlasts a normal scale-out, so the capacity provider is at its maximum or cannot launch.
	CapacityWaitMinutes int `json:"capacityWaitMinutes"`
	// UnexpectedStops: API or worker tasks that exit, fail to start or fail health checks, more than
	// this many in UnexpectedStopsMinutes.
	UnexpectedStops        int `json:"unexpectedStops"`
	UnexpectedStopsMinutes int `json:"unexpectedStopsMinutes"`
	// LoadBalancer5xxPerMinute: 5xx answers the load balancer itself generates (no healthy target,
	// target refused or timed out), more than this many a minute for three minutes.
	LoadBalancer5xxPerMinute int `json:"loadBalancer5xxPerMinute"`
	DatabaseCPUPercent       int `json:"databaseCpuPercent"`
	// DatabaseFreeStoragePercent of allocatedStorage. With storage autoscaling on
	// (database.maxAllocatedStorage), which acts at 10 % of the current size, the alarm uses at most
	// half of that (see DatabaseFreeStorageAlarmPercent).
	DatabaseFreeStoragePercent int `json:"databaseFreeStoragePercent"`
	DatabaseFreeMemoryMiB      int `json:"databaseFreeMemoryMiB"`
	// DatabaseConnections; 0 means 80 % of the instance class's default max_connections.
	DatabaseConnections int `json:"databaseConnections"`
	CacheCPUPercent     int `json:"cacheCpuPercent"`
	CacheMemoryPercent  int `json:"cacheMemoryPercent"`
	// CacheEvictions per five minutes; 0 alarms on any eviction, since sessions and rate limits live
	// in the cache and an evicted key is lost state.
	CacheEvictions int `json:"cacheEvictions"`
}

func defaultAlerts() AlertsConfig {
	return AlertsConfig{Thresholds: AlertsThresholds{
		TaskShortfallMinutes: 10, CapacityWaitMinutes: 15, UnexpectedStops: 3, UnexpectedStopsMinutes: 15,
		LoadBalancer5xxPerMinute: 10, DatabaseCPUPercent: 80, DatabaseFreeStoragePercent: 10,
		DatabaseFreeMemoryMiB: 128, CacheCPUPercent: 80, CacheMemoryPercent: 80,
	}}
}

// MaxAlertEmails bounds the subscriptions one stack makes; more belong on a mailing list.
const MaxAlertEmails = 10

var (
	// emailAddress is what SNS's email protocol accepts in practice: one address, no display name.
	emailAddress = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)
	// snsTopicArn: SNS topic names are 1-256 letters, digits, hyphens and underscores (.fifo for FIFO,
	// which CloudWatch alarms cannot publish to).
	snsTopicArn = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)
)

// DatabaseMaxConnections estimates RDS for PostgreSQL's default max_connections for an instance
// class, LEAST({DBInstanceClassMemory/9531392}, 5000) ("Maximum number of database connections",
// RDS User Guide), with DBInstanceClassMemory taken as 90 % of the nominal memory since RDS keeps
// some for the OS. ok is false for classes whose memory the program does not know.
func DatabaseMaxConnections(instanceClass string) (int, bool) {
	shape, err := ParseInstanceType(strings.TrimPrefix(instanceClass, "db."))
	if err != nil || !strings.HasPrefix(instanceClass, "db.") {
		return 0, false
	}
	return min(shape.MemoryMiB*9/10*1024*1024/9531392, 5000), true
}

// StorageAutoscalingTriggerPercent is when RDS storage autoscaling adds storage: "Free available
// space is less than or equal to 10 percent of the allocated storage", for at least five minutes
// ("Managing capacity automatically with Amazon RDS storage autoscaling", RDS User Guide).
const StorageAutoscalingTriggerPercent = 10

// DatabaseFreeStorageAlarmPercent is the share of allocatedStorage the free-storage alarm fires
// below. With storage autoscaling on it is at most half of autoscaling's own trigger: allocated
// storage only grows, so the alarm's threshold stays below every later trigger too, and it fires
// only when autoscaling could not act (at maxAllocatedStorage, within six hours of the last storage
// change, or outpaced), never on the condition autoscaling is about to fix.
func (c *Config) DatabaseFreeStorageAlarmPercent() float64 {
	p := float64(c.Alerts.Thresholds.DatabaseFreeStoragePercent)
	if c.Database.MaxAllocatedStorage > 0 {
		p = min(p, StorageAutoscalingTriggerPercent/2.0)
	}
	return p
}

// CheckTopicAccount refuses alerts.topicArn in another account than the one the stack deploys to
// (known only once the program asks AWS who it is): EventBridge would need an execution role and
// the topic a policy admitting it, which the stack does not create, and every rule's alert would
// be dropped with only FailedInvocations as a trace.
func (a AlertsConfig) CheckTopicAccount(stack, account string) error {
	if !a.Enabled || a.TopicArn == "" {
		return nil
	}
	if topicAccount := arnField(a.TopicArn, 4); topicAccount != account {
		return fmt.Errorf("alerts.topicArn: is in account %s, but stack %s deploys to account %s: EventBridge delivers to another account's topic only through a role the stack does not create; use a topic in %s, e.g. AWS Chatbot's configured in this account (got %q)",
			topicAccount, stack, account, account, a.TopicArn)
	}
	return nil
}

// arnField is the i-th colon-separated field of an ARN (1 partition, 3 region, 4 account).
func arnField(arn string, i int) string {
	fields := strings.SplitN(arn, ":", 6)
	if i >= len(fields) {
		return ""
	}
	return fields[i]
}

// DatabaseConnectionsThreshold is the connection count the alarm fires above.
func (c *Config) DatabaseConnectionsThreshold() int {
	if n := c.Alerts.Thresholds.DatabaseConnections; n > 0 {
		return n
	}
	limit, _ := DatabaseMaxConnections(c.Database.InstanceClass)
	return limit * 8 / 10
}

// MaxRunbookURL bounds runbookUrl, so an alarm's description (PutMetricAlarm's AlarmDescription: 1024
// characters) keeps room for what it says before the link.
const MaxRunbookURL = 200

// validateRunbookURL: the URL goes as written into alarm descriptions and into EventBridge input
// templates, where "<name>" is a placeholder and '"' would end the JSON string it sits in, and an
// anchor is appended to it, so it is an https URL with none of these and no fragment of its own.
func validateRunbookURL(raw string, fail func(string, string, ...any)) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case len(raw) > MaxRunbookURL:
		fail("runbookUrl", "is %d characters; at most %d", len(raw), MaxRunbookURL)
	case err != nil || u.Scheme != "https" || u.Host == "":
		fail("runbookUrl", "must be an https URL of docs/runbooks.md, e.g. https://github.com/<owner>/<repo>/blob/main/docs/runbooks.md (got %q)", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		fail("runbookUrl", "must not have a #fragment: each alert appends its section's anchor (got %q)", raw)
	case strings.ContainsAny(raw, "<>\"\\ \t\n{}`"):
		fail("runbookUrl", "must not contain spaces, quotes, backslashes, braces or angle brackets: it goes as written into alert templates (got %q)", raw)
	}
}

func validateAlerts(c *Config, fail func(string, string, ...any)) {
	a := c.Alerts
	if !a.Enabled {
		return
	}
	const key = "alerts"
	if len(a.Emails) > MaxAlertEmails {
		fail(key+".emails", "lists %d addresses; at most %d, use a mailing list for more", len(a.Emails), MaxAlertEmails)
	}
	seen := map[string]bool{}
	for _, e := range a.Emails {
		if !emailAddress.MatchString(e) || len(e) > 254 {
			fail(key+".emails", "%q is not an e-mail address", e)
		}
		if seen[strings.ToLower(e)] {
			fail(key+".emails", "%q is listed twice", e)
		}
		seen[strings.ToLower(e)] = true
	}
	if a.TopicArn != "" && !snsTopicArn.MatchString(a.TopicArn) {
		fail(key+".topicArn", "must be a standard SNS topic ARN like arn:aws:sns:<region>:<account>:<name> (got %q)", a.TopicArn)
	} else if region := arnField(a.TopicArn, 3); a.TopicArn != "" && c.Region != "" && region != c.Region {
		// "The targets you associate with a rule must be in the same Region as the rule" (AWS
		// Knowledge Center, sns-not-getting-eventbridge-notification); even cross-account delivery
		// is "to cross-account targets in the same Region" (EventBridge User Guide).
		fail(key+".topicArn", "is in region %s, but stack %s deploys to %s: EventBridge delivers only to targets in its rule's region; use a topic in %s (got %q)",
			region, c.Stack, c.Region, c.Region, a.TopicArn)
	}
	t := a.Thresholds
	between := func(field string, v, lo, hi int) {
		if v < lo || v > hi {
			fail(key+".thresholds."+field, "must be between %d and %d (got %d)", lo, hi, v)
		}
	}
	// CloudWatch evaluates at most a day of data per alarm (EvaluationPeriods x Period <= 86400 s).
	between("taskShortfallMinutes", t.TaskShortfallMinutes, 1, 1440)
	between("capacityWaitMinutes", t.CapacityWaitMinutes, 1, 1440)
	between("unexpectedStops", t.UnexpectedStops, 0, 10000)
	between("unexpectedStopsMinutes", t.UnexpectedStopsMinutes, 1, 1440)
	between("loadBalancer5xxPerMinute", t.LoadBalancer5xxPerMinute, 0, 1000000)
	between("databaseCpuPercent", t.DatabaseCPUPercent, 1, 100)
	between("databaseFreeStoragePercent", t.DatabaseFreeStoragePercent, 1, 99)
	between("databaseFreeMemoryMiB", t.DatabaseFreeMemoryMiB, 1, 1024*1024)
	between("databaseConnections", t.DatabaseConnections, 0, 262143)
	between("cacheCpuPercent", t.CacheCPUPercent, 1, 100)
	between("cacheMemoryPercent", t.CacheMemoryPercent, 1, 100)
	between("cacheEvictions", t.CacheEvictions, 0, 1000000000)
	if c.Database.Enabled && t.DatabaseConnections == 0 {
		if _, ok := DatabaseMaxConnections(c.Database.InstanceClass); !ok {
			fail(key+".thresholds.databaseConnections", "must be set for instance class %q, whose memory (and so max_connections) the program does not know", c.Database.InstanceClass)
		}
	}
}
