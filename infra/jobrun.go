package infra

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/acme/ecs-api/config"
)

// A job's run is a Step Functions standard workflow, as Copilot's scheduled jobs are: a guard that
// refuses to overlap a run still going, then the job's task through the synchronous ECS integration
// (runTask.sync), so the run's outcome is the task's: a non-zero exit fails it, and it is retried
// with backoff; every run, with its task's exit code and stopped reason, stays in the execution
// history and the state machine's log group.

// Names of the run's states, as the console and the execution history show them.
const (
	JobGuardState   = "Check no run is still going"
	JobChoiceState  = "Already running?"
	JobSkippedState = "Skipped: the previous run is still going"
	JobRunState     = "Run the job's task"
	JobFailedState  = "Failed after retries"
)

// Job run errors: JobAlreadyRunning when the guard skips a run, JobFailed after the retries.
const (
	ErrJobAlreadyRunning = "JobAlreadyRunning"
	ErrJobFailed         = "JobFailed"
)

// Retry timing of a failed run: the first retry after a minute, each later one twice as late, so
// a retry also outlasts a short capacity shortage while managed scaling adds an instance.
const (
	JobRetryIntervalSeconds = 60
	JobRetryBackoffRate     = 2.0
	// JobStartAllowanceSeconds is how long a task may wait for an instance and pull its image
	// before its own timeout starts to count.
	JobStartAllowanceSeconds = 600
	// jobKillGraceSeconds matches `timeout -k 30`: SIGKILL 30 s after SIGTERM.
	jobKillGraceSeconds = 30
)

// JobRetryErrors are the failures a run retries: the task failed (a non-zero exit, or a task ECS
// stopped because no instance had room) or ECS refused RunTask for now (throttling, no capacity).
// A run that times out is not retried: that would double its time limit.
var JobRetryErrors = []string{"States.TaskFailed", "ECS.AmazonECSException", "ECS.SdkClientException"}

// JobStateTimeout is the run state's limit: the job's own timeout, the grace `timeout` gives before
// SIGKILL, and the allowance to start. It backs the in-container `timeout` for a task that hangs
// before or around its command; when it fires, Step Functions stops the task. 0 means no limit.
func JobStateTimeout(job config.JobConfig) int {
	if job.Timeout == 0 {
		return 0
	}
	return job.Timeout + jobKillGraceSeconds + JobStartAllowanceSeconds
}

// JobRunDefinition is the Amazon States Language definition of one job's run.
func JobRunDefinition(partition string, job config.JobConfig, clusterArn, taskDefinitionArn, capacityProvider string) (string, error) {
	run := aslState{
		Type:     "Task",
		Comment:  "One task of the job; the state fails when the task's container exits non-zero",
		Resource: fmt.Sprintf("arn:%s:states:::ecs:runTask.sync", partition),
		Parameters: map[string]any{
			"Cluster":        clusterArn,
			"TaskDefinition": taskDefinitionArn,
			"CapacityProviderStrategy": []map[string]any{
				{"CapacityProvider": capacityProvider, "Weight": 1, "Base": 0},
			},
			"EnableECSManagedTags": true,
			"PropagateTags":        "TASK_DEFINITION",
			"StartedBy":            "job-" + job.Name,
		},
		TimeoutSeconds: JobStateTimeout(job),
		Catch:          []aslCatcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: JobFailedState}},
		End:            true,
	}
	if job.Retries > 0 {
		run.Retry = []aslRetrier{{
			ErrorEquals: JobRetryErrors, IntervalSeconds: JobRetryIntervalSeconds,
			MaxAttempts: job.Retries, BackoffRate: JobRetryBackoffRate,
		}}
	}
	states := map[string]aslState{
		JobGuardState: {
			Type:     "Task",
			Comment:  "Runs of this job that are still going, this one included",
			Resource: fmt.Sprintf("arn:%s:states:::aws-sdk:sfn:listExecutions", partition),
			Parameters: map[string]any{
				"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": 2,
			},
			ResultSelector: map[string]any{"running.$": "States.ArrayLength($.Executions)"},
			ResultPath:     "$.guard",
			Retry: []aslRetrier{{
				ErrorEquals: []string{"States.ALL"}, IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2,
			}},
			Next: JobChoiceState,
		},
		JobChoiceState: {
			Type:    "Choice",
			Choices: []aslChoice{{Variable: "$.guard.running", NumericGreaterThan: 1, Next: JobSkippedState}},
			Default: JobRunState,
		},
		JobSkippedState: {
			Type:  "Fail",
			Error: ErrJobAlreadyRunning,
			Cause: fmt.Sprintf("The previous run of the %s job is still going; this run was skipped so the two do not overlap.", job.Name),
		},
		JobRunState: run,
		JobFailedState: {
			Type:  "Fail",
			Error: ErrJobFailed,
			Cause: fmt.Sprintf("The %s job failed after %d retries or timed out; the run's events show the task's exit code and stopped reason.", job.Name, job.Retries),
		},
	}
	b, err := json.Marshal(map[string]any{
		"Comment": fmt.Sprintf("Runs the %s job once, never two runs at a time", job.Name),
		"StartAt": JobGuardState,
		"States":  states,
	})
	return string(b), err
}

// jobRunPolicy lets a job's state machine run exactly the job's task definition family in exactly
// this cluster, watch and stop those tasks, pass exactly the job's two roles to ECS, keep the
// EventBridge rule that runTask.sync waits on ("IAM policies for Amazon ECS/AWS Fargate" in the Step
// Functions guide), and list its own executions for the overlap guard.
func jobRunPolicy(partition, region, clusterArn, family, taskRoleArn, executionRoleArn, stateMachineArn string) string {
	account := arnAccount(clusterArn)
	tasks := strings.Replace(clusterArn, ":cluster/", ":task/", 1) + "/*"
	inCluster := map[string]map[string]string{"ArnEquals": {"ecs:cluster": clusterArn}}
	return PolicyDocument{Statement: []PolicyStatement{
		{
			Sid: "RunTheJobTask", Effect: "Allow", Action: []string{"ecs:RunTask"},
			Resource:  []string{fmt.Sprintf("arn:%s:ecs:%s:%s:task-definition/%s:*", partition, region, account, family)},
			Condition: inCluster,
		},
		{
			Sid: "WatchAndStopTheJobTask", Effect: "Allow", Action: []string{"ecs:DescribeTasks", "ecs:StopTask"},
			Resource: []string{tasks}, Condition: inCluster,
		},
		{
			Sid: "TagTheJobTask", Effect: "Allow", Action: []string{"ecs:TagResource"}, Resource: []string{tasks},
			Condition: map[string]map[string]string{"StringEquals": {"ecs:CreateAction": "RunTask"}},
		},
		{
			Sid: "PassTheJobRoles", Effect: "Allow", Action: []string{"iam:PassRole"}, Resource: []string{taskRoleArn, executionRoleArn},
			Condition: map[string]map[string]string{"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
		},
		{
			Sid: "KeepTheSyncRule", Effect: "Allow", Action: []string{"events:DescribeRule", "events:PutRule", "events:PutTargets"},
			Resource: []string{fmt.Sprintf("arn:%s:events:%s:%s:rule/StepFunctionsGetEventsForECSTaskRule", partition, region, account)},
		},
		{
			Sid: "GuardAgainstOverlap", Effect: "Allow", Action: []string{"states:ListExecutions"}, Resource: []string{stateMachineArn},
		},
	}}.JSON()
}

// arnAccount is the account field of an ARN.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}
