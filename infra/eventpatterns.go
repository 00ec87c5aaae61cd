package infra

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The EventBridge patterns of the events that need a person, each matching the fields and values
// AWS's event references give.

// serviceArns are the ARNs of services of a cluster, in ECS's long format
// (arn:...:service/<cluster>/<service>), which the deployment events carry in resources.
func serviceArns(clusterArn string, services []string) []string {
	prefix := strings.Replace(clusterArn, ":cluster/", ":service/", 1)
	var arns []string
	for _, s := range services {
		arns = append(arns, prefix+"/"+s)
	}
	return arns
}

func mustPattern(p map[string]any) string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("event pattern: %v", err)) // strings, slices and maps only
	}
	return string(b)
}

// DeploymentFailedPattern matches a failed deployment of the services. ECS sends
// SERVICE_DEPLOYMENT_FAILED, with the service's ARN in resources, when the circuit breaker or a
// deployment alarm fails a deployment, and its reason says whether it rolls back ("Amazon ECS
// service deployment state change events").
func DeploymentFailedPattern(serviceArns []string) string {
	return mustPattern(map[string]any{
		"source":      []string{"aws.ecs"},
		"detail-type": []string{"ECS Deployment State Change"},
		"resources":   serviceArns,
		"detail":      map[string]any{"eventName": []string{"SERVICE_DEPLOYMENT_FAILED"}},
	})
}

// UnexpectedStopPattern matches tasks of the services that stop without the scheduler choosing to:
// the essential container exited, the task failed to start, or the scheduler replaced it because it
// failed its load balancer or container health checks ("Amazon ECS task state change events";
// stopCode values from "Amazon ECS stopped tasks error codes"). Scale-in and deployments stop tasks
// with ServiceSchedulerInitiated and another reason, and are not matched. Service tasks carry the
// group "service:<name>".
func UnexpectedStopPattern(clusterArn string, services []string) string {
	return stoppedTaskPattern(clusterArn, "service:", services,
		map[string]any{"stopCode": []string{"EssentialContainerExited", "TaskFailedToStart"}},
		map[string]any{"stoppedReason": []any{
			map[string]string{"prefix": "Task failed ELB health checks"},
			map[string]string{"prefix": "Task failed container health checks"},
		}})
}

// stoppedTaskPattern matches "ECS Task State Change" events of stopped tasks in the cluster whose
// group is the prefix and one of names, and that meet one of the conditions.
func stoppedTaskPattern(clusterArn, groupPrefix string, names []string, conditions ...any) string {
	var groups []string
	for _, n := range names {
		groups = append(groups, groupPrefix+n)
	}
	return mustPattern(map[string]any{
		"source":      []string{"aws.ecs"},
		"detail-type": []string{"ECS Task State Change"},
		"detail": map[string]any{
			"clusterArn": []string{clusterArn},
			"group":      groups,
			"lastStatus": []string{"STOPPED"},
			"$or":        conditions,
		},
	})
}

// JobTaskFailedPattern matches a job's task that stopped with a non-zero exit code, or without
// starting. Tasks that Step Functions starts with RunTask get the group "family:<family>" (RunTask's
// default), so the families name the jobs.
func JobTaskFailedPattern(clusterArn string, families []string) string {
	return stoppedTaskPattern(clusterArn, "family:", families,
		map[string]any{"containers": map[string]any{"exitCode": []any{map[string]any{"anything-but": 0}}}},
		map[string]any{"stopCode": []string{"TaskFailedToStart"}})
}

// RunFailedPattern matches a run of the state machines that did not succeed ("Step Functions
// Execution Status Change" events: FAILED, TIMED_OUT, ABORTED).
func RunFailedPattern(stateMachineArns []string) string {
	return mustPattern(map[string]any{
		"source":      []string{"aws.states"},
		"detail-type": []string{"Step Functions Execution Status Change"},
		"detail": map[string]any{
			"status":          []string{"FAILED", "TIMED_OUT", "ABORTED"},
			"stateMachineArn": slices.Sorted(slices.Values(stateMachineArns)),
		},
	})
}

// DatabaseEventCategories are the RDS event categories that need a person ("Amazon RDS event
// categories and event messages").
var DatabaseEventCategories = []string{"availability", "failover", "failure", "low storage", "maintenance"}

// DatabaseEventPattern matches the database instance's events of those categories, which RDS sends
// to EventBridge as "RDS DB Instance Event".
func DatabaseEventPattern(identifier string) string {
	return mustPattern(map[string]any{
		"source":      []string{"aws.rds"},
		"detail-type": []string{"RDS DB Instance Event"},
		"detail": map[string]any{
			"SourceIdentifier": []string{identifier},
			"EventCategories":  DatabaseEventCategories,
		},
	})
}
