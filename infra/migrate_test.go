package infra_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/acme/ecs-api/infra"
)

// TestFailedMigrationCountsAsAnUnexpectedStop: when the migrate container exits non-zero or ECS gives
// up on it (startTimeout), the ECS agent stops the app's container before it ran, with exit code 143
// and "CannotStartContainerError: dependency graph: failed to resolve container ordering dependency"
// (aws/amazon-ecs-agent#3218), and the task stops because an essential container did. AWS documents
// no stop code for that case: whether the task stops as EssentialContainerExited or as
// TaskFailedToStart, the unexpected-stops rule of the API's service counts it, although the container
// that failed is not essential. A deployment's own replacements are not counted.
func TestFailedMigrationCountsAsAnUnexpectedStop(t *testing.T) {
	stopped := func(stopCode, reason string, migrateExit int) map[string]any {
		var event map[string]any
		b, _ := json.Marshal(map[string]any{
			"source": "aws.ecs", "detail-type": "ECS Task State Change",
			"detail": map[string]any{
				"clusterArn": eventCluster, "group": "service:api-3f2a", "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
				"stopCode": stopCode, "stoppedReason": reason,
				"containers": []any{
					map[string]any{"name": "app", "lastStatus": "STOPPED", "exitCode": 143,
						"reason": "CannotStartContainerError: dependency graph: failed to resolve container ordering dependency [migrate] for target [app] as dependency did not exit successfully."},
					map[string]any{"name": "migrate", "lastStatus": "STOPPED", "exitCode": migrateExit},
				},
			},
		})
		_ = json.Unmarshal(b, &event)
		return event
	}
	var pattern map[string]any
	if err := json.Unmarshal([]byte(infra.UnexpectedStopPattern(eventCluster, []string{"api-3f2a"})), &pattern); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		event map[string]any
		want  bool
	}{
		{"migration failed, essential container exited", stopped("EssentialContainerExited", "Essential container in task exited", 1), true},
		{"migration timed out under timeout", stopped("EssentialContainerExited", "Essential container in task exited", 124), true},
		{"migration failed, task failed to start", stopped("TaskFailedToStart", "Essential container in task exited", 1), true},
		{"replaced by a deployment", stopped("ServiceSchedulerInitiated", "Scheduling a replacement task", 0), false},
	} {
		if got := matches(pattern, tc.event); got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestReleaseCheckFailsWhenTheAPIRolledBack: the gate the worker and the jobs wait on fails when the
// API's service runs another task definition than the one the deploy registered (a rollback), and
// passes when it runs that one, or when the provider reports none.
func TestReleaseCheckFailsWhenTheAPIRolledBack(t *testing.T) {
	const (
		registered = "arn:aws:ecs:us-east-1:123456789012:task-definition/ecs-api-prod-api:42"
		previous   = "arn:aws:ecs:us-east-1:123456789012:task-definition/ecs-api-prod-api:41"
	)
	for _, tc := range []struct {
		name, running string
		wantErr       bool
	}{
		{"rolled back", previous, true},
		{"serves this release", registered, false},
		{"not reported", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := infra.ReleaseCheck(tc.running, registered)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ReleaseCheck(%q) = %v, want error %v", tc.running, err, tc.wantErr)
			}
			if err != nil && (!strings.Contains(err.Error(), "rolled back to "+previous) || !strings.Contains(err.Error(), "the worker and jobs keep the previous version")) {
				t.Errorf("error %q does not say where the API rolled back to and what the worker and jobs run", err)
			}
		})
	}
}

// TestMigrationFailedPatternMatchesTheAgentsReasons (review M2): the ECS agent stops the app's
// container, which waits on migrate with SUCCESS, with one of three reasons
// (agent/engine/dependencygraph/graph.go): the migration exited non-zero, ran past its
// startTimeout, or will never start. Each matches, for the API's service only; an app that crashed
// after a successful migration, a deployment's replacement and another service's task do not.
func TestMigrationFailedPatternMatchesTheAgentsReasons(t *testing.T) {
	const (
		migrate = "migrate(123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.3) (STOPPED->STOPPED)"
		app     = "app(123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.3) (PULLED->RUNNING)"
	)
	event := func(group, appReason string, migrateExit any, stopCode string) map[string]any {
		containers := []any{
			map[string]any{"name": "migrate", "lastStatus": "STOPPED", "exitCode": migrateExit},
			map[string]any{"name": "app", "lastStatus": "STOPPED", "exitCode": 143, "reason": appReason},
		}
		if appReason == "" {
			containers[1] = map[string]any{"name": "app", "lastStatus": "STOPPED", "exitCode": 1}
		}
		var e map[string]any
		b, _ := json.Marshal(map[string]any{
			"source": "aws.ecs", "detail-type": "ECS Task State Change",
			"detail": map[string]any{
				"clusterArn": eventCluster, "group": group, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
				"stopCode": stopCode, "stoppedReason": "Essential container in task exited", "containers": containers,
			},
		})
		_ = json.Unmarshal(b, &e)
		return e
	}
	prefix := "CannotStartContainerError: dependency graph: "
	var pattern map[string]any
	if err := json.Unmarshal([]byte(infra.MigrationFailedPattern(eventCluster, "api-3f2a")), &pattern); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		event map[string]any
		want  bool
	}{
		{"migration exited non-zero", event("service:api-3f2a", prefix+"failed to resolve container ordering dependency ["+migrate+"] for target ["+app+"] as dependency did not exit successfully.", 1, "EssentialContainerExited"), true},
		{"migration timed out (startTimeout)", event("service:api-3f2a", prefix+"container ordering dependency ["+migrate+"] for target ["+app+"] has timed out.", nil, "EssentialContainerExited"), true},
		{"migration never started", event("service:api-3f2a", prefix+"failed to resolve container ordering dependency ["+migrate+"] for target ["+app+"] because dependency will never start", nil, "TaskFailedToStart"), true},
		{"bare container names", event("service:api-3f2a", prefix+"failed to resolve container ordering dependency [migrate] for target [app] as dependency did not exit successfully.", 1, "EssentialContainerExited"), true},
		{"app crashed after a successful migration", event("service:api-3f2a", "", 0, "EssentialContainerExited"), false},
		{"app's own reason names migrate", event("service:api-3f2a", "Error: migrate table missing", 0, "EssentialContainerExited"), false},
		{"another service's task", event("service:worker-9b1c", prefix+"failed to resolve container ordering dependency ["+migrate+"] for target ["+app+"] as dependency did not exit successfully.", 1, "EssentialContainerExited"), false},
	} {
		if got := matches(pattern, tc.event); got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
}
