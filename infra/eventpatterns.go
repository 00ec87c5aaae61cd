package infra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The EventBridge patterns of the events that need a person, each matching the fields and values
// AWS's event references give.

// literalJSON encodes v as AWS reads it: Go's json.Marshal escapes "<", ">" and "&" as \u003c,
// \u003e and \u0026 (encoding/json, HTMLEscape), and EventBridge fills only the literal
// <variable-name> tokens of an input template ("Amazon EventBridge input transformation";
// hashicorp/terraform#38733 is the same bug through jsonencode). Every JSON string the stack hands
// AWS for its alerts (templates, patterns, filter policies, the dashboard) goes through here, so
// what is sent is what is written.
func literalJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

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
	s, err := literalJSON(p)
	if err != nil {
		panic(fmt.Sprintf("event pattern: %v", err)) // strings, slices and maps only
	}
	return s
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
	return stoppedTaskPattern(clusterArn, "service:", services, map[string]any{"$or": []any{
		map[string]any{"stopCode": []string{"EssentialContainerExited", "TaskFailedToStart"}},
		map[string]any{"stoppedReason": []any{
			map[string]string{"prefix": "Task failed ELB health checks"},
			map[string]string{"prefix": "Task failed container health checks"},
		}},
	}})
}

// MigrationFailedReason is a wildcard on the reason the ECS agent gives the app's container when
// its migrate dependency failed, so the app never started: "dependency graph: failed to resolve
// container ordering dependency [migrate(...)] for target [app(...)] as dependency did not exit
// successfully.", "dependency graph: container ordering dependency [migrate(...)] for target
// [app(...)] has timed out." (startTimeout) and "... because dependency will never start"
// (amazon-ecs-agent, agent/engine/dependencygraph/graph.go; aws/amazon-ecs-agent#3218), each
// behind "CannotStartContainerError: ". The dependency is named first, so an image or target
// holding "migrate" does not match. "*" matches any run of characters, "[" is literal ("Wildcard
// matching", "Content filtering in Amazon EventBridge event patterns").
const MigrationFailedReason = "*container ordering dependency [" + MigrateContainerName + "*"

// MigrationFailedPattern matches a stopped task of the service whose container's reason says its
// migrate dependency failed, timed out or never started: the migration, not the app, stopped it.
func MigrationFailedPattern(clusterArn, service string) string {
	return stoppedTaskPattern(clusterArn, "service:", []string{service}, map[string]any{
		"containers": map[string]any{"reason": []any{map[string]string{"wildcard": MigrationFailedReason}}},
	})
}

// stoppedTaskPattern matches "ECS Task State Change" events of stopped tasks in the cluster whose
// group is the prefix and one of names, and whose detail also matches conditions.
func stoppedTaskPattern(clusterArn, groupPrefix string, names []string, conditions map[string]any) string {
	var groups []string
	for _, n := range names {
		groups = append(groups, groupPrefix+n)
	}
	detail := map[string]any{
		"clusterArn": []string{clusterArn},
		"group":      groups,
		"lastStatus": []string{"STOPPED"},
	}
	for k, v := range conditions {
		detail[k] = v
	}
	return mustPattern(map[string]any{
		"source":      []string{"aws.ecs"},
		"detail-type": []string{"ECS Task State Change"},
		"detail":      detail,
	})
}

// taskFailedToStart is the stop code of a task whose containers never ran, so its event has no exit
// code ("Amazon ECS stopped tasks error codes").
const taskFailedToStart = "TaskFailedToStart"

// JobTaskExitedPattern matches a job's task whose container exited with a code other than 0. Tasks
// that Step Functions starts with RunTask get the group "family:<family>" (RunTask's default), so
// the families name the jobs. A task that never started is JobTaskNotStartedPattern's: it has no
// exit code to report, and one event must not send two alerts.
func JobTaskExitedPattern(clusterArn string, families []string) string {
	return stoppedTaskPattern(clusterArn, "family:", families, map[string]any{
		"containers": map[string]any{"exitCode": []any{map[string]any{"anything-but": 0}}},
		"stopCode":   []any{map[string]any{"anything-but": taskFailedToStart}},
	})
}

// JobTaskNotStartedPattern matches a job's task that stopped before its container ran (an image
// that cannot be pulled, a secret that cannot be read, no instance to place it on).
func JobTaskNotStartedPattern(clusterArn string, families []string) string {
	return stoppedTaskPattern(clusterArn, "family:", families, map[string]any{
		"stopCode": []string{taskFailedToStart},
	})
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
// to EventBridge as "RDS DB Instance Event". The instance is matched by its ARN in resources, which
// AWS's examples of that event all carry, where detail.SourceIdentifier is shown both bare and as
// "rds:<id>" ("Tutorial: Log DB instance state changes using Amazon EventBridge", RDS User
// Guide, and the Lambda Developer Guide's sample event both show
// "resources": ["arn:aws:rds:<region>:<account>:db:<id>"]).
func DatabaseEventPattern(instanceArn string) string {
	return mustPattern(map[string]any{
		"source":      []string{"aws.rds"},
		"detail-type": []string{"RDS DB Instance Event"},
		"resources":   []string{instanceArn},
		"detail":      map[string]any{"EventCategories": DatabaseEventCategories},
	})
}

// DatabaseInstanceArn is an RDS instance's ARN, arn:<partition>:rds:<region>:<account>:db:<identifier>
// ("Amazon Resource Names (ARNs) in Amazon RDS").
func DatabaseInstanceArn(partition, region, account, identifier string) string {
	return fmt.Sprintf("arn:%s:rds:%s:%s:db:%s", partition, region, account, identifier)
}

// RotationFailureEvents are the CloudTrail events of a rotation that did not complete: RotationFailed,
// and RotationAbandoned, when a new version was put while a rotation was under way and Secrets
// Manager gave it up ("Logging AWS Secrets Manager events with AWS CloudTrail").
var RotationFailureEvents = []string{"RotationFailed", "RotationAbandoned"}

// RotationFailurePattern matches a failed or abandoned rotation of one secret, in the shape of the
// rotation's own RotationSucceeded rule (rotation.go): a service event through CloudTrail with the
// secret in additionalEventData.SecretId.
func RotationFailurePattern(secretArn string) string {
	return mustPattern(map[string]any{
		"source":      []string{"aws.secretsmanager"},
		"detail-type": []string{"AWS Service Event via CloudTrail", "AWS API Call via CloudTrail"},
		"detail": map[string]any{
			"eventSource":         []string{"secretsmanager.amazonaws.com"},
			"eventName":           RotationFailureEvents,
			"additionalEventData": map[string]any{"SecretId": []string{secretArn}},
		},
	})
}

// AlarmRecoveredPattern matches the stack's alarms returning to OK from ALARM: every alarm whose
// name starts with namePrefix (AlarmNamePrefix, "<project>/<stack>/", whose closing "/" keeps a
// stack named prod-eu out of prod's rule), except the alarms whose ARNs are excluded (those that
// count events). By name prefix, not by listing the alarms' ARNs: the pattern then keeps its size
// however many alarms the stack has and however long its name ("Prefix matching" and "Anything-but
// matching", "Content filtering in Amazon EventBridge event patterns"); listed ARNs passed the
// 2048-character quota once the stack's name reached about 60 characters. The two conditions are
// on two fields, which EventBridge ANDs; an alarm event's resources holds the alarm's one ARN.
// CloudWatch sends every state change to EventBridge and guarantees their delivery ("Alarm events
// and EventBridge"); a new alarm goes from INSUFFICIENT_DATA to OK, which previousState ALARM
// leaves out, where an OK action would notify on it ("When this operation creates an alarm, the
// alarm state is immediately set to INSUFFICIENT_DATA", PutMetricAlarm).
func AlarmRecoveredPattern(namePrefix string, excludedArns []string) string {
	p := map[string]any{
		"source":      []string{"aws.cloudwatch"},
		"detail-type": []string{"CloudWatch Alarm State Change"},
		"detail": map[string]any{
			"alarmName":     []any{map[string]string{"prefix": namePrefix}},
			"previousState": map[string]any{"value": []string{"ALARM"}},
			"state":         map[string]any{"value": []string{"OK"}},
		},
	}
	if len(excludedArns) > 0 {
		p["resources"] = []any{map[string]any{"anything-but": slices.Sorted(slices.Values(excludedArns))}}
	}
	return mustPattern(p)
}

// CacheAlertEvents are the ElastiCache notifications that need a person: a failover, a node being
// replaced (now or in a maintenance window), and the operations that failed outside a deploy
// ("Event Notifications and Amazon SNS", ElastiCache User Guide). The rest of that list
// (SnapshotComplete every day, parameter and scaling completions, service updates) is routine.
var CacheAlertEvents = []string{
	"ElastiCache:FailoverComplete",
	"ElastiCache:CacheNodeReplaceStarted",
	"ElastiCache:CacheNodeReplaceComplete",
	"ElastiCache:NodeReplacementScheduled",
	"ElastiCache:NodeReplacementRescheduled",
	"ElastiCache:SnapshotFailed",
	"ElastiCache:AddCacheNodeFailed",
	"ElastiCache:CacheClusterProvisioningFailed",
	"ElastiCache:CacheClusterScalingFailed",
	"ElastiCache:ReplicationGroupScalingFailed",
}

// CacheEventsFilterPolicy lets through the cache topic's messages whose body names one of
// CacheAlertEvents. ElastiCache's message is a JSON object keyed by the event name
// ({"ElastiCache:FailoverComplete": "<node>"}), so each event is an "exists" key match ("Key
// matching", SNS Developer Guide) joined by "$or" ("AND/OR logic"). SNS allows five keys per
// policy ("Filter policy constraints"); "$or" is the one top-level key here, as the AWS CDK and
// LocalStack count them, and the total combination of values is one per event, far below 150.
func CacheEventsFilterPolicy() string {
	var alternatives []any
	for _, event := range CacheAlertEvents {
		alternatives = append(alternatives, map[string]any{event: []any{map[string]bool{"exists": true}}})
	}
	return mustPattern(map[string]any{"$or": alternatives})
}
