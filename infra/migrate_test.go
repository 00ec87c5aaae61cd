package infra_test

import (
	"encoding/json"
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
