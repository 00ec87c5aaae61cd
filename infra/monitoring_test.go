package infra_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/acme/ecs-api/infra"
)

// matches evaluates an EventBridge event pattern against an event, with the semantics of
// "Amazon EventBridge event patterns": every key of the pattern must match; a list matches when the
// event's value (or any element of an event list) equals one of its literals or meets one of its
// filters (prefix, anything-but); a nested object matches nested fields, any element of an event
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
			if p, ok := f["prefix"].(string); ok {
				if s, ok := got.(string); ok && strings.HasPrefix(s, p) {
					return true
				}
			}
			if but, ok := f["anything-but"]; ok && got != nil && got != but {
				return true
			}
		default:
			if f == got {
				return true
			}
		}
	}
	return false
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
	rds := func(id string, categories ...string) string {
		b, _ := json.Marshal(map[string]any{"source": "aws.rds", "detail-type": "RDS DB Instance Event",
			"detail": map[string]any{"EventCategories": categories, "SourceType": "DB_INSTANCE", "SourceIdentifier": id, "EventID": "RDS-EVENT-0049", "Message": "Multi-AZ instance failover completed"}})
		return string(b)
	}
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

		{"job exited 1", infra.JobTaskFailedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 1), true},
		{"job timed out (124)", infra.JobTaskFailedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 124), true},
		{"job never started", infra.JobTaskFailedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "TaskFailedToStart", "ResourceInitializationError: unable to pull secrets", nil), true},
		{"job succeeded", infra.JobTaskFailedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-prod-job-nightly-cleanup", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 0), false},
		{"another family", infra.JobTaskFailedPattern(eventCluster, []string{"ecs-api-prod-job-nightly-cleanup"}),
			taskEvent("family:ecs-api-dev-job-nightly-cleanup", "STOPPED", "EssentialContainerExited", "Essential container in task exited", 1), false},

		{"run failed", infra.RunFailedPattern([]string{job}), sfn("FAILED", job), true},
		{"run timed out", infra.RunFailedPattern([]string{job}), sfn("TIMED_OUT", job), true},
		{"run aborted", infra.RunFailedPattern([]string{job}), sfn("ABORTED", job), true},
		{"run succeeded", infra.RunFailedPattern([]string{job}), sfn("SUCCEEDED", job), false},
		{"run started", infra.RunFailedPattern([]string{job}), sfn("RUNNING", job), false},
		{"another machine", infra.RunFailedPattern([]string{job}), sfn("FAILED", job+"-x"), false},

		{"database failover", infra.DatabaseEventPattern("db-1a2b"), rds("db-1a2b", "failover"), true},
		{"database storage", infra.DatabaseEventPattern("db-1a2b"), rds("db-1a2b", "low storage"), true},
		{"database maintenance", infra.DatabaseEventPattern("db-1a2b"), rds("db-1a2b", "maintenance", "notification"), true},
		{"database backup", infra.DatabaseEventPattern("db-1a2b"), rds("db-1a2b", "backup"), false},
		{"another database", infra.DatabaseEventPattern("db-1a2b"), rds("db-9z8y", "failover"), false},
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
		{infra.JobTaskFailedPattern(eventCluster, []string{"fam"}),
			`{"detail":{"$or":[{"containers":{"exitCode":[{"anything-but":0}]}},{"stopCode":["TaskFailedToStart"]}],"clusterArn":["` + eventCluster + `"],"group":["family:fam"],"lastStatus":["STOPPED"]},"detail-type":["ECS Task State Change"],"source":["aws.ecs"]}`},
		{infra.RunFailedPattern([]string{"b", "a"}),
			`{"detail":{"stateMachineArn":["a","b"],"status":["FAILED","TIMED_OUT","ABORTED"]},"detail-type":["Step Functions Execution Status Change"],"source":["aws.states"]}`},
		{infra.DatabaseEventPattern("db"),
			`{"detail":{"EventCategories":["availability","failover","failure","low storage","maintenance"],"SourceIdentifier":["db"]},"detail-type":["RDS DB Instance Event"],"source":["aws.rds"]}`},
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
