package infra_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/acme/ecs-api/infra"
)

// matches evaluates an EventBridge event pattern against an event, with the semantics of
// "Amazon EventBridge event patterns": every key of the pattern must match; a list matches when the
// event's value (or any element of an event list) equals one of its literals or meets one of its
// filters (prefix, wildcard, anything-but of a value or a list); a nested object matches nested fields, any element of an event
// list of objects; $or matches when any of its patterns does.
func matches(pattern map[string]any, event any) bool {
	if list, ok := event.([]any); ok {
		for _, e := range list {
			if matches(pattern, e) {
				return true
			}
		}
		return false
	}
	obj, _ := event.(map[string]any)
	for key, want := range pattern {
		if key == "$or" {
			matched := false
			for _, alt := range want.([]any) {
				matched = matched || matches(alt.(map[string]any), obj)
			}
			if !matched {
				return false
			}
			continue
		}
		got, present := obj[key]
		switch want := want.(type) {
		case map[string]any:
			if !present || !matches(want, got) {
				return false
			}
		case []any:
			if !present || !valueMatches(want, got) {
				return false
			}
		default:
			panic("pattern values are lists or objects")
		}
	}
	return true
}

func valueMatches(filters []any, got any) bool {
	if list, ok := got.([]any); ok {
		for _, g := range list {
			if valueMatches(filters, g) {
				return true
			}
		}
		return false
	}
	for _, f := range filters {
		switch f := f.(type) {
		case map[string]any:
			// The key is present (matches checked it), so "exists": true holds.
			if e, ok := f["exists"].(bool); ok && e {
				return true
			}
			if p, ok := f["prefix"].(string); ok {
				if s, ok := got.(string); ok && strings.HasPrefix(s, p) {
					return true
				}
			}
			if w, ok := f["wildcard"].(string); ok {
				if s, ok := got.(string); ok && wildcardMatches(w, s) {
					return true
				}
			}
			if but, ok := f["anything-but"]; ok && got != nil {
				excluded, isList := but.([]any)
				if !isList {
					excluded = []any{but}
				}
				if !slices.Contains(excluded, got) {
					return true
				}
			}
		default:
			if f == got {
				return true
			}
		}
	}
	return false
}

// wildcardMatches is EventBridge's wildcard filter: "*" matches any run of characters, zero
// included, everything else itself ("Wildcard matching", "Content filtering in Amazon EventBridge
// event patterns").
func wildcardMatches(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := len(parts) - 1
	for _, p := range parts[1:last] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	if last == 0 {
		return s == ""
	}
	return strings.HasSuffix(s, parts[last])
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return v
}

const (
	eventCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/ecs-api-prod"
	eventService = "arn:aws:ecs:us-east-1:123456789012:service/ecs-api-prod/api-3f2a"
)

// taskEvent is an "ECS Task State Change" event shaped as AWS's example in "Amazon ECS task state
// change events".
func taskEvent(group, lastStatus, stopCode, reason string, exitCode any) string {
	container := map[string]any{"name": "app", "lastStatus": lastStatus}
	if exitCode != nil {
		container["exitCode"] = exitCode
	}
	detail := map[string]any{
		"clusterArn": eventCluster, "group": group, "lastStatus": lastStatus, "desiredStatus": "STOPPED",
		"containers": []any{container}, "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/ecs-api-prod/0123",
	}
	if stopCode != "" {
		detail["stopCode"] = stopCode
		detail["stoppedReason"] = reason
	}
	b, _ := json.Marshal(map[string]any{"source": "aws.ecs", "detail-type": "ECS Task State Change", "resources": []string{"arn:aws:ecs:us-east-1:123456789012:task/0123"}, "detail": detail})
	return string(b)
}

// TestEventPatternsMatchWhatNeedsAPerson runs each rule's pattern against events as AWS sends them:
// the ones a person must hear about match, the routine ones (a deployment in progress, a scale-in,
// a job that exits 0, another service's or another stack's events) do not.
func TestEventPatternsMatchWhatNeedsAPerson(t *testing.T) {
	deployment := func(name, resource string) string {
		b, _ := json.Marshal(map[string]any{"source": "aws.ecs", "detail-type": "ECS Deployment State Change", "resources": []string{resource},
			"detail": map[string]any{"eventType": "ERROR", "eventName": name, "deploymentId": "ecs-svc/123",
				"reason": "ECS deployment circuit breaker: tasks failed to start. Rolling back to deployment ecs-svc/122."}})
		return string(b)
	}
	sfn := func(status, machine string) string {
		b, _ := json.Marshal(map[string]any{"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
			"detail": map[string]any{"status": status, "stateMachineArn": machine, "executionArn": machine + ":run-1"}})
		return string(b)
	}
	// As "Tutorial: Log DB instance state changes using Amazon EventBridge" (RDS User Guide) shows
	// the event: the instance's ARN in resources and in detail.SourceArn.
	rds := func(id string, categories ...string) string {
		arn := infra.DatabaseInstanceArn("aws", "us-east-1", "123456789012", id)
		b, _ := json.Marshal(map[string]any{"source": "aws.rds", "detail-type": "RDS DB Instance Event", "resources": []string{arn},
			"detail": map[string]any{"EventCategories": categories, "SourceType": "DB_INSTANCE", "SourceArn": arn, "SourceIdentifier": id, "EventID": "RDS-EVENT-0049", "Message": "Multi-AZ instance failover completed"}})
		return string(b)
	}
	dbArn := infra.DatabaseInstanceArn("aws", "us-east-1", "123456789012", "db-1a2b")
	job := "arn:aws:states:us-east-1:123456789012:stateMachine:jobs-nightly-cleanup"
	for _, tc := range []struct {
		name, pattern, event string
		want                 bool
	}{
		{"deployment failed", infra.DeploymentFailedPattern([]string{eventService}), deployment("SERVICE_DEPLOYMENT_FAILED", eventService), true},
		{"deployment in progress", infra.DeploymentFailedPattern([]string{eventService}), deployment("SERVICE_DEPLOYMENT_IN_PROGRESS", eventService), false},
		{"deployment completed", infra.DeploymentFailedPattern([]string{eventService}), deployment("SERVICE_DEPLOYMENT_COMPLETED", eventService), false},
		{"another service's deployment", infra.DeploymentFailedPattern([]string{eventService}), deployment("SERVICE_DEPLOYMENT_FAILED", eventService+"-other"), false},

		{"container exited", infra.UnexpectedStopPattern(eventCluster, []string{"api-3f2a"}),
			taskEvent("service:api-3f2a", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 1), true},
		{"failed to start", infra.UnexpectedStopPattern(eventCluster, []string{"api-3f2a"}),
			taskEvent("service:api-3f2a", "STOPPED", "TaskFailedToStart", "CannotPullContainerError: pull image manifest has been retried", nil), true},
		{"failed ELB health checks", infra.UnexpectedStopPattern(eventCluster, []string{"api-3f2a"}),
			taskEvent("service:api-3f2a", "STOPPED", "ServiceSchedulerInitiated", "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:...)", 137), true},
		{"scale-in", infra.UnexpectedStopPattern(eventCluster, []string{"api-3f2a"}),
			taskEvent("service:api-3f2a", "STOPPED", "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/123)", 0), false},
		{"stopped by a person", infra.UnexpectedStopPattern(eventCluster, []string{"api-3f2a"}),
			taskEvent("service:api-3f2a", "STOPPED", "UserInitiated", "Task stopped by user", 143), false},
		{"still running", infra.UnexpectedStopPattern(eventCluster, []string{"api-3f2a"}), taskEvent("service:api-3f2a", "RUNNING", "", "", nil), false},
		{"another service's task", infra.UnexpectedStopPattern(eventCluster, []string{"api-3f2a"}),
			taskEvent("service:other", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 1), false},

		{"job exited 1", infra.JobTaskExitedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 1), true},
		{"job timed out (124)", infra.JobTaskExitedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 124), true},
		{"job stopped by its run's timeout (143)", infra.JobTaskExitedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "UserInitiated", "Task stopped by Step Functions", 143), true},
		{"job never started: not an exit", infra.JobTaskExitedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "TaskFailedToStart", "ResourceInitializationError: unable to pull secrets", 1), false},
		{"job never started", infra.JobTaskNotStartedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "TaskFailedToStart", "ResourceInitializationError: unable to pull secrets", nil), true},
		{"job exited 1: it started", infra.JobTaskNotStartedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 1), false},
		{"job succeeded", infra.JobTaskExitedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 0), false},
		{"another family", infra.JobTaskExitedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-dev-job-nightly-cleanup", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 1), false},
		{"another family never started", infra.JobTaskNotStartedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-dev-job-nightly-cleanup", "STOPPED", "TaskFailedToStart", "CannotPullContainerError", nil), false},

		{"run failed", infra.RunFailedPattern([]string{job}), sfn("FAILED", job), true},
		{"run timed out", infra.RunFailedPattern([]string{job}), sfn("TIMED_OUT", job), true},
		{"run aborted", infra.RunFailedPattern([]string{job}), sfn("ABORTED", job), true},
		{"run succeeded", infra.RunFailedPattern([]string{job}), sfn("SUCCEEDED", job), false},
		{"run started", infra.RunFailedPattern([]string{job}), sfn("RUNNING", job), false},
		{"another machine", infra.RunFailedPattern([]string{job}), sfn("FAILED", job+"-x"), false},

		{"database failover", infra.DatabaseEventPattern(dbArn), rds("db-1a2b", "failover"), true},
		{"database storage", infra.DatabaseEventPattern(dbArn), rds("db-1a2b", "low storage"), true},
		{"database maintenance", infra.DatabaseEventPattern(dbArn), rds("db-1a2b", "maintenance", "notification"), true},
		{"database backup", infra.DatabaseEventPattern(dbArn), rds("db-1a2b", "backup"), false},
		{"another database", infra.DatabaseEventPattern(dbArn), rds("db-9z8y", "failover"), false},
		// A database whose name starts like this one's: an ARN is matched whole.
		{"a database named alike", infra.DatabaseEventPattern(dbArn), rds("db-1a2b-old", "failover"), false},
	} {
		if got := matches(decode(t, tc.pattern), decode(t, tc.event)); got != tc.want {
			t.Errorf("%s: matched %v, want %v\npattern %s\nevent   %s", tc.name, got, tc.want, tc.pattern, tc.event)
		}
	}
}

// TestEventPatternFields pins the exact ECS, Step Functions and RDS field values each pattern uses,
// as AWS's event references spell them, so a typo in a value cannot hide behind the matcher.
func TestEventPatternFields(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    string
	}{
		{infra.DeploymentFailedPattern([]string{eventService}),
			`{"detail":{"eventName":["SERVICE_DEPLOYMENT_FAILED"]},"detail-type":["ECS Deployment State Change"],"resources":["` + eventService + `"],"source":["aws.ecs"]}`},
		{infra.UnexpectedStopPattern(eventCluster, []string{"api"}),
			`{"detail":{"$or":[{"stopCode":["EssentialContainerExited","TaskFailedToStart"]},{"stoppedReason":[{"prefix":"Task failed ELB health checks"},{"prefix":"Task failed container health checks"}]}],"clusterArn":["` + eventCluster + `"],"group":["service:api"],"lastStatus":["STOPPED"]},"detail-type":["ECS Task State Change"],"source":["aws.ecs"]}`},
		{infra.JobTaskExitedPattern(eventCluster, []string{"fam"}),
			`{"detail":{"clusterArn":["` + eventCluster + `"],"containers":{"exitCode":[{"anything-but":0}]},"group":["family:fam"],"lastStatus":["STOPPED"],"stopCode":[{"anything-but":"TaskFailedToStart"}]},"detail-type":["ECS Task State Change"],"source":["aws.ecs"]}`},
		{infra.JobTaskNotStartedPattern(eventCluster, []string{"fam"}),
			`{"detail":{"clusterArn":["` + eventCluster + `"],"group":["family:fam"],"lastStatus":["STOPPED"],"stopCode":["TaskFailedToStart"]},"detail-type":["ECS Task State Change"],"source":["aws.ecs"]}`},
		{infra.RunFailedPattern([]string{"b", "a"}),
			`{"detail":{"stateMachineArn":["a","b"],"status":["FAILED","TIMED_OUT","ABORTED"]},"detail-type":["Step Functions Execution Status Change"],"source":["aws.states"]}`},
		{infra.DatabaseEventPattern("arn:aws:rds:us-east-1:123456789012:db:db"),
			`{"detail":{"EventCategories":["availability","failover","failure","low storage","maintenance"]},"detail-type":["RDS DB Instance Event"],"resources":["arn:aws:rds:us-east-1:123456789012:db:db"],"source":["aws.rds"]}`},
		{infra.RotationFailurePattern("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf"),
			`{"detail":{"additionalEventData":{"SecretId":["arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf"]},"eventName":["RotationFailed","RotationAbandoned"],"eventSource":["secretsmanager.amazonaws.com"]},"detail-type":["AWS Service Event via CloudTrail","AWS API Call via CloudTrail"],"source":["aws.secretsmanager"]}`},
		{infra.AlarmRecoveredPattern("p/s/", []string{"arn:aws:cloudwatch:us-east-1:123456789012:alarm:p/s/b", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:p/s/a"}),
			`{"detail":{"alarmName":[{"prefix":"p/s/"}],"previousState":{"value":["ALARM"]},"state":{"value":["OK"]}},"detail-type":["CloudWatch Alarm State Change"],"resources":[{"anything-but":["arn:aws:cloudwatch:us-east-1:123456789012:alarm:p/s/a","arn:aws:cloudwatch:us-east-1:123456789012:alarm:p/s/b"]}],"source":["aws.cloudwatch"]}`},
	} {
		if tc.pattern != tc.want {
			t.Errorf("pattern\n%s\nwant\n%s", tc.pattern, tc.want)
		}
	}
}

// TestDashboardShowsOnlyWhatTheStackHas: the widgets follow the spec: no database, cache, job or
// alarm widgets without those parts, every widget inside the 24-unit grid without overlap, and every
// metric in the stack's region.
func TestDashboardShowsOnlyWhatTheStackHas(t *testing.T) {
	base := infra.DashboardSpec{
		Region: "eu-west-1", Title: "ecs-api/dev", LoadBalancer: "app/web/1", TargetGroup: "targetgroup/web/2",
		Cluster: "cluster", Services: []string{"api"}, CapacityProviders: []string{"cp"}, AutoScalingGroup: "asg",
	}
	full := base
	full.Services = []string{"api", "worker"}
	full.Database = "db"
	full.CacheNodes = []string{"cache-002", "cache-001"}
	full.StateMachines = map[string]string{"nightly": "arn:aws:states:eu-west-1:123456789012:stateMachine:nightly"}
	full.DeadLetterQueue = "jobs-dlq"
	full.Alarms = []string{"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a"}
	always := []string{infra.WidgetRequests, infra.WidgetResponses, infra.WidgetLatency, infra.WidgetTargets, infra.WidgetTasks,
		infra.WidgetCapacity, infra.WidgetServiceCPU, infra.WidgetServiceMem}
	optional := []string{infra.WidgetAlarms, infra.WidgetDatabase, infra.WidgetDatabaseLoad, infra.WidgetCache, infra.WidgetCacheEvict, infra.WidgetJobs}
	for _, tc := range []struct {
		name string
		spec infra.DashboardSpec
		want []string
	}{
		{"minimal", base, always},
		{"everything", full, append(append([]string{}, always...), optional...)},
	} {
		body, err := infra.DashboardBody(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		var parsed struct {
			Widgets []struct {
				Type                string
				X, Y, Width, Height int
				Properties          map[string]any
			}
		}
		if err := json.Unmarshal([]byte(body), &parsed); err != nil {
			t.Fatal(err)
		}
		titles := map[string]bool{}
		cells := map[[2]int]string{}
		for _, w := range parsed.Widgets {
			title, _ := w.Properties["title"].(string)
			titles[strings.TrimPrefix(title, tc.spec.Title+": ")] = true
			if w.Properties["region"] != tc.spec.Region {
				t.Errorf("%s: widget %q is in region %v", tc.name, title, w.Properties["region"])
			}
			if w.X < 0 || w.X+w.Width > infra.DashboardGridWidth || w.Height < 1 {
				t.Errorf("%s: widget %q at x=%d width %d leaves the grid", tc.name, title, w.X, w.Width)
			}
			for x := w.X; x < w.X+w.Width; x++ {
				for y := w.Y; y < w.Y+w.Height; y++ {
					if other, taken := cells[[2]int{x, y}]; taken {
						t.Fatalf("%s: widgets %q and %q overlap", tc.name, other, title)
					}
					cells[[2]int{x, y}] = title
				}
			}
		}
		if len(titles) != len(tc.want) {
			t.Errorf("%s: widgets %v, want %v", tc.name, titles, tc.want)
		}
		for _, w := range tc.want {
			if !titles[w] {
				t.Errorf("%s: no %q widget", tc.name, w)
			}
		}
		for _, name := range []string{"cache-001", "cache-002", "jobs-dlq", "worker", "DBInstanceIdentifier"} {
			if has := strings.Contains(body, `"`+name+`"`); has != (tc.name == "everything") {
				t.Errorf("%s: body mentions %s: %v", tc.name, name, has)
			}
		}
	}
}

func TestDashboardURLPerPartition(t *testing.T) {
	for _, tc := range []struct{ partition, region, want string }{
		{"aws", "us-east-1", "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/d"},
		{"aws-cn", "cn-north-1", "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#dashboards/dashboard/d"},
		{"aws-us-gov", "us-gov-west-1", "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#dashboards/dashboard/d"},
	} {
		if got := infra.DashboardURL(tc.partition, tc.region, "d"); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.partition, got, tc.want)
		}
	}
}

// TestRotationFailuresOfTheSecretMatch (review B6): Secrets Manager logs "RotationFailed event -
// Secret rotation failed" and "RotationAbandoned event" as CloudTrail service events with the
// secret in additionalEventData.SecretId ("Logging AWS Secrets Manager events with AWS
// CloudTrail"); the pattern matches those of the database's secret, in the shape of the rotation's
// own RotationSucceeded rule, and nothing else.
func TestRotationFailuresOfTheSecretMatch(t *testing.T) {
	const secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1a2b-AbCdEf"
	event := func(name, secretID string) string {
		b, _ := json.Marshal(map[string]any{"source": "aws.secretsmanager", "detail-type": "AWS Service Event via CloudTrail",
			"detail": map[string]any{"eventSource": "secretsmanager.amazonaws.com", "eventName": name, "eventType": "AwsServiceEvent",
				"additionalEventData": map[string]any{"SecretId": secretID}}})
		return string(b)
	}
	for _, tc := range []struct {
		name, event string
		want        bool
	}{
		{"rotation failed", event("RotationFailed", secret), true},
		{"rotation abandoned", event("RotationAbandoned", secret), true},
		{"rotation succeeded", event("RotationSucceeded", secret), false},
		{"rotation started", event("RotationStarted", secret), false},
		{"another secret failed", event("RotationFailed", secret+"x"), false},
	} {
		if got := matches(decode(t, infra.RotationFailurePattern(secret)), decode(t, tc.event)); got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRecoveryIsToldOnlyAfterAnAlarm (review B8, R2): an alarm is created in INSUFFICIENT_DATA
// ("When this operation creates an alarm, the alarm state is immediately set to INSUFFICIENT_DATA",
// PutMetricAlarm) and OK actions run "when this alarm transitions to the OK state from any other
// state"; the recovery rule matches ALARM to OK only ("Alarm events and EventBridge", CloudWatch User
// Guide, for the event's shape: the alarm's ARN in resources, its name in detail.alarmName). It
// matches the stack's alarms by name prefix ("You can use prefix matching for string values",
// "Content filtering in Amazon EventBridge event patterns"), the prefix's closing "/" keeping a stack
// named prod-eu out of prod's rule, and leaves out the alarms that count events by their ARNs
// ("You can use anything-but matching with strings and numeric values, including lists that contain
// only strings").
func TestRecoveryIsToldOnlyAfterAnAlarm(t *testing.T) {
	const arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
	prefix := infra.AlarmNamePrefix("ecs-api", "prod")
	pattern := decode(t, infra.AlarmRecoveredPattern(prefix, []string{
		arn + "ecs-api/prod/monitoring-unexpected-task-stops", arn + "ecs-api/prod/monitoring-job-dlq",
	}))
	event := func(name, from, to string) map[string]any {
		b, _ := json.Marshal(map[string]any{"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
			"resources": []string{arn + name},
			"detail": map[string]any{"alarmName": name, "state": map[string]any{"value": to, "reason": "Threshold Crossed"},
				"previousState": map[string]any{"value": from}}})
		return decode(t, string(b))
	}
	for _, tc := range []struct {
		name     string
		event    map[string]any
		want     bool
		whatIsIt string
	}{
		{"recovered", event("ecs-api/prod/monitoring-db-cpu", "ALARM", "OK"), true, "a real recovery"},
		{"a deployment alarm recovered", event("ecs-api/prod/app-5xx-rate", "ALARM", "OK"), true, "the AppService's alarm, named under the same prefix"},
		{"created", event("ecs-api/prod/monitoring-db-cpu", "INSUFFICIENT_DATA", "OK"), false, "the alarm's creation"},
		{"fired", event("ecs-api/prod/monitoring-db-cpu", "OK", "ALARM"), false, "the alarm firing (its action tells)"},
		{"another stack's alarm", event("ecs-api/prod-eu/monitoring-db-cpu", "ALARM", "OK"), false, "a stack whose name starts with this one's"},
		{"another project's alarm", event("other/prod/monitoring-db-cpu", "ALARM", "OK"), false, "another project's stack of the same name"},
		{"an alarm that counts", event("ecs-api/prod/monitoring-unexpected-task-stops", "ALARM", "OK"), false, "its OK only means the window passed"},
		{"another alarm that counts", event("ecs-api/prod/monitoring-job-dlq", "ALARM", "OK"), false, "its OK only means the window passed"},
	} {
		if got := matches(pattern, tc.event); got != tc.want {
			t.Errorf("%s (%s): matched %v, want %v", tc.name, tc.whatIsIt, got, tc.want)
		}
	}
}

// TestCacheFilterLetsThroughFailoversReplacementsAndFailures (review B5): ElastiCache's SNS
// messages are JSON objects keyed by the event name, and its list of events includes
// "ElastiCache:SnapshotComplete - A cache snapshot has completed successfully" ("Event
// Notifications and Amazon SNS", ElastiCache User Guide), sent for every daily backup. The
// subscription filter (applied to the message body) passes only the events that need a person.
func TestCacheFilterLetsThroughFailoversReplacementsAndFailures(t *testing.T) {
	policy := infra.CacheEventsFilterPolicy()
	parsed := decode(t, policy)
	// "A filter policy can have a maximum of five keys" and a total combination of values of at
	// most 150 ("Filter policy constraints in Amazon SNS"): one "$or" with one value per event.
	if len(parsed) > 5 || len(infra.CacheAlertEvents) > 150 {
		t.Errorf("filter policy of %d keys and %d values: %s", len(parsed), len(infra.CacheAlertEvents), policy)
	}
	for _, tc := range []struct {
		event string
		want  bool
	}{
		{"ElastiCache:FailoverComplete", true},
		{"ElastiCache:CacheNodeReplaceStarted", true},
		{"ElastiCache:CacheNodeReplaceComplete", true},
		{"ElastiCache:NodeReplacementScheduled", true},
		{"ElastiCache:SnapshotFailed", true},
		{"ElastiCache:ReplicationGroupScalingFailed", true},
		{"ElastiCache:SnapshotComplete", false},
		{"ElastiCache:CacheClusterParametersChanged", false},
		{"ElastiCache:ServiceUpdateAvailableForNode", false},
		{"ElastiCache:CertificateRenewalComplete", false},
	} {
		body := decode(t, `{"`+tc.event+`":"ecs-api-prod-cache-002"}`)
		if got := matches(parsed, body); got != tc.want {
			t.Errorf("%s: passes %v, want %v (policy %s)", tc.event, got, tc.want, policy)
		}
	}
	if strings.Contains(policy, `\u00`) {
		t.Errorf("filter policy is escaped: %s", policy)
	}
}
