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
//
// A run that fails or times out stops the tasks it started before it ends FAILED. Step Functions
// promises only a best-effort cancel of a .sync task, and only when the execution is stopped or a
// Parallel or Map branch fails ("Discover service integration patterns": "Step Functions will make a
// best-effort attempt to cancel the task"); it says nothing of a state that times out. So the run
// does it itself, whether or not Step Functions already has: it lists the tasks started with the
// job's StartedBy in the cluster and stops each. The guard keeps runs of a job from overlapping, so
// those are this run's tasks; the skipped path never gets there, as it would stop the other run's.
//
// Neither list the run asks for is read where its absence would fail the run. AWS does not say
// whether an SDK integration returns an empty list as [] or leaves the key out, and a path that
// matches nothing in a ResultSelector, an ItemsPath or a Choice comparison fails the execution with
// States.Runtime, which neither Retry nor Catch handles ("Error handling in Step Functions": States.ALL
// "can't catch the States.DataLimitExceeded terminal error or Runtime error types"). So each answer
// is kept whole, and a Choice looks into it only through IsPresent: "if the Variable-field Path
// fails to match anything in the input no exception is thrown and the Choice Rule just returns
// false" (States Language specification, Choice Rules). And is evaluated in order, "ceasing array
// processing when the boolean value has been unambiguously determined", so a comparison placed
// after IsPresent on the same path reads only what is there.

// Names of the run's states, as the console and the execution history show them.
const (
	JobNoteRunState = "Note this run's id"
	JobGuardState   = "Check no run is still going"
	JobChoiceState  = "Already running?"
	JobSkippedState = "Skipped: the previous run is still going"
	JobRunState     = "Run the job's task"
	// JobFindTasksState, JobAnyTaskLeftState and JobStopTasksState clean up after a run that
	// failed or timed out.
	JobFindTasksState   = "Find the run's tasks still running"
	JobAnyTaskLeftState = "Any task left?"
	JobStopTasksState   = "Stop the run's tasks"
	JobStopTaskState    = "Stop the task"
	JobFailedState      = "Failed after retries"
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
	// jobGuardPage is how many running executions the guard asks for: its own and one more. Any
	// page of two holds at least one execution other than this one (ARNs are unique), and a page of
	// one either is this one or is another; so two answer "is another run going?" whatever the
	// listing's lag, and more would answer nothing new.
	jobGuardPage = 2
)

// JobRetryErrors are the failures a run retries: the task failed (a non-zero exit, or a task ECS
// stopped because no instance had room) or ECS refused RunTask for now (throttling, no capacity).
// A run that times out is not retried: that would double its time limit.
var JobRetryErrors = []string{"States.TaskFailed", "ECS.AmazonECSException", "ECS.SdkClientException"}

// jobAPIRetry retries the run's own API calls (list its executions, find and stop its tasks) a few
// times within seconds: throttling and service errors pass, and anything else is only tried again
// three times before the state's Catch, if any, takes over.
var jobAPIRetry = []aslRetrier{{ErrorEquals: []string{"States.ALL"}, IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2}}

// JobStateTimeout is the run state's limit: the job's own timeout, the grace `timeout` gives before
// SIGKILL, and the allowance to start. It backs the in-container `timeout` for a task that hangs
// before or around its command; when it fires, the run stops the task (see above). 0 means no limit.
func JobStateTimeout(job config.JobConfig) int {
	if job.Timeout == 0 {
		return 0
	}
	return job.Timeout + jobKillGraceSeconds + JobStartAllowanceSeconds
}

// jobStartedBy is the StartedBy of a job's tasks: ECS allows 36 characters, which "job-" and a job
// name of at most 32 fill exactly.
func jobStartedBy(job config.JobConfig) string { return "job-" + job.Name }

// aslRule is a Choice rule: a test of Variable, or an And, Or or Not of rules. IsPresent is a
// pointer so that a test for false would be written out.
type aslRule struct {
	Variable         string    `json:"Variable,omitempty"`
	IsPresent        *bool     `json:"IsPresent,omitempty"`
	StringEqualsPath string    `json:"StringEqualsPath,omitempty"`
	And              []aslRule `json:"And,omitempty"`
	Or               []aslRule `json:"Or,omitempty"`
	Not              *aslRule  `json:"Not,omitempty"`
	Next             string    `json:"Next,omitempty"`
}

type aslChoiceState struct {
	Type    string    `json:"Type"`
	Comment string    `json:"Comment,omitempty"`
	Choices []aslRule `json:"Choices"`
	Default string    `json:"Default"`
}

// aslMapState is an inline Map state ("Using Map state in Inline mode": ItemProcessor and
// ItemSelector replace the deprecated Iterator and Parameters). A nil ResultPath is written as
// null: the state's input, and so the run's $.error, becomes its output.
type aslMapState struct {
	Type          string           `json:"Type"`
	Comment       string           `json:"Comment,omitempty"`
	ItemsPath     string           `json:"ItemsPath"`
	ItemSelector  map[string]any   `json:"ItemSelector"`
	ItemProcessor aslItemProcessor `json:"ItemProcessor"`
	ResultPath    *string          `json:"ResultPath"`
	Catch         []aslCatcher     `json:"Catch,omitempty"`
	Next          string           `json:"Next"`
}

type aslItemProcessor struct {
	ProcessorConfig map[string]string   `json:"ProcessorConfig"`
	StartAt         string              `json:"StartAt"`
	States          map[string]aslState `json:"States"`
}

func boolp(b bool) *bool { return &b }

// jobRunSelf is where the run keeps its own execution ARN for the guard to compare with.
const jobRunSelf = "$.run.self"

// anotherRunListed holds when ListExecutions' answer, at $.guard, names a run other than this
// one: at some place on the page there is an execution, and it is not this run. IsPresent comes
// first in each And, so the comparison never reads a place the page does not fill.
func anotherRunListed() []aslRule {
	var rules []aslRule
	for i := 0; i < jobGuardPage; i++ {
		arn := fmt.Sprintf("$.guard.Executions[%d].ExecutionArn", i)
		rules = append(rules, aslRule{And: []aslRule{
			{Variable: arn, IsPresent: boolp(true)},
			{Not: &aslRule{Variable: arn, StringEqualsPath: jobRunSelf}},
		}})
	}
	return rules
}

// JobRunDefinition is the Amazon States Language definition of one job's run.
func JobRunDefinition(partition string, job config.JobConfig, clusterArn, taskDefinitionArn, capacityProvider string) (string, error) {
	sdk := func(api string) string { return fmt.Sprintf("arn:%s:states:::aws-sdk:%s", partition, api) }
	// A cleanup step that fails after its retries still ends the run as JobFailed, with the run's
	// own error kept in $.error: the cleanup never hides why the run failed, and never loops.
	toFailed := []aslCatcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.cleanupError", Next: JobFailedState}}

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
			"StartedBy":            jobStartedBy(job),
		},
		TimeoutSeconds: JobStateTimeout(job),
		// Failed or timed out: stop what the run started, then fail.
		Catch: []aslCatcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: JobFindTasksState}},
		End:   true,
	}
	if job.Retries > 0 {
		run.Retry = []aslRetrier{{
			ErrorEquals: JobRetryErrors, IntervalSeconds: JobRetryIntervalSeconds,
			MaxAttempts: job.Retries, BackoffRate: JobRetryBackoffRate,
		}}
	}
	states := map[string]any{
		// The context object is readable in a Pass state's Parameters ("Accessing execution data
		// from the Context object": Parameters is among the fields that can refer to $$.), and
		// nothing there can be missing: $$.Execution.Id is this execution's ARN.
		JobNoteRunState: aslState{
			Type:       "Pass",
			Comment:    "This run's execution ARN, for the guard to tell it from another run's",
			Parameters: map[string]any{"self.$": "$$.Execution.Id"},
			ResultPath: "$.run",
			Next:       JobGuardState,
		},
		// ListExecutions "is eventually consistent": the list may lack this execution, just started,
		// or still show one that has just ended. So the guard looks for another run, not for a count
		// that assumes this one is listed. Its answer is kept as sent, with no ResultSelector: an
		// empty list may come back without its key (see above).
		JobGuardState: aslState{
			Type:     "Task",
			Comment:  "Runs of this job that are still going, as far as ListExecutions knows",
			Resource: sdk("sfn:listExecutions"),
			Parameters: map[string]any{
				"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": jobGuardPage,
			},
			ResultPath: "$.guard",
			Retry:      jobAPIRetry,
			Next:       JobChoiceState,
		},
		// Nothing listed, or only this run: run. A page with a run that is not this one: skip.
		JobChoiceState: aslChoiceState{
			Type:    "Choice",
			Comment: "Skip when a run other than this one is listed",
			Choices: []aslRule{{Or: anotherRunListed(), Next: JobSkippedState}},
			Default: JobRunState,
		},
		JobSkippedState: aslState{
			Type:  "Fail",
			Error: ErrJobAlreadyRunning,
			Cause: fmt.Sprintf("The previous run of the %s job is still going; this run was skipped so the two do not overlap.", job.Name),
		},
		JobRunState: run,
		// ListTasks: "When you specify startedBy as the filter, it must be the only filter that you
		// use"; desiredStatus is left out, and its default, RUNNING, is what is wanted: tasks ECS has
		// not yet been asked to stop, those still waiting for an instance included.
		// Kept as sent, with no ResultSelector, like the guard's: no task left may mean no TaskArns.
		JobFindTasksState: aslState{
			Type:       "Task",
			Comment:    "Tasks this run started that are still running: Step Functions only tries to stop them",
			Resource:   sdk("ecs:listTasks"),
			Parameters: map[string]any{"Cluster": clusterArn, "StartedBy": jobStartedBy(job)},
			ResultPath: "$.leftover",
			Retry:      jobAPIRetry,
			Catch:      toFailed,
			Next:       JobAnyTaskLeftState,
		},
		// The Map's ItemsPath must match an array; it is reached only when the list has a first task.
		JobAnyTaskLeftState: aslChoiceState{
			Type:    "Choice",
			Comment: "Stop tasks only when ListTasks named one",
			Choices: []aslRule{{Variable: "$.leftover.TaskArns[0]", IsPresent: boolp(true), Next: JobStopTasksState}},
			Default: JobFailedState,
		},
		JobStopTasksState: aslMapState{
			Type:      "Map",
			Comment:   "Stop each of them, naming the job and this run as the reason",
			ItemsPath: "$.leftover.TaskArns",
			ItemSelector: map[string]any{
				"Task.$": "$$.Map.Item.Value",
				// Job names are lowercase letters, digits and hyphens: none of the characters
				// States.Format reserves (' { } \). At most 32 + 80 (an execution name) + the text,
				// well within StopTask's 255.
				"Reason.$": fmt.Sprintf("States.Format('Job %s: run {} failed or timed out; stopped by its state machine', $$.Execution.Name)", job.Name),
			},
			ItemProcessor: aslItemProcessor{
				ProcessorConfig: map[string]string{"Mode": "INLINE"},
				StartAt:         JobStopTaskState,
				States: map[string]aslState{
					JobStopTaskState: {
						Type:     "Task",
						Resource: sdk("ecs:stopTask"),
						Parameters: map[string]any{
							"Cluster": clusterArn, "Task.$": "$.Task", "Reason.$": "$.Reason",
						},
						Retry: jobAPIRetry,
						End:   true,
					},
				},
			},
			ResultPath: nil,
			Catch:      toFailed,
			Next:       JobFailedState,
		},
		JobFailedState: aslState{
			Type:  "Fail",
			Error: ErrJobFailed,
			Cause: fmt.Sprintf("The %s job failed after %d retries or timed out; the run's events show the task's exit code and stopped reason.", job.Name, job.Retries),
		},
	}
	b, err := json.Marshal(map[string]any{
		"Comment": fmt.Sprintf("Runs the %s job once, never two runs at a time", job.Name),
		"StartAt": JobNoteRunState,
		"States":  states,
	})
	return string(b), err
}

// jobRunPolicy lets a job's state machine run exactly the job's task definition family in exactly
// this cluster, watch, find and stop those tasks, pass exactly the job's two roles to ECS, keep the
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
		// ListTasks names no task. The Service Authorization Reference gives it the container-instance
		// resource type and the ecs:cluster key; listing a whole cluster names no container instance
		// either, and the ECS guide's own policy to "list tasks for a specified cluster" is Resource
		// "*" with ArnEquals on ecs:cluster. The condition is what keeps it to this cluster.
		{
			Sid: "FindTheJobTasks", Effect: "Allow", Action: []string{"ecs:ListTasks"},
			Resource: []string{"*"}, Condition: inCluster,
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
