package infra_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const (
	scheduleType = "aws:scheduler/schedule:Schedule"
	taskDefType  = "aws:ecs/taskDefinition:TaskDefinition"
	clusterArn   = "arn:aws:ecs:us-east-1:123456789012:cluster/cluster-1"
	taskRoleArn  = "arn:aws:iam::123456789012:role/api-task"
	execRoleArn  = "arn:aws:iam::123456789012:role/api-execution"
)

const twoJobs = `[
 {"name":"nightly-cleanup","schedule":"cron(0 3 * * ? *)","timezone":"Europe/Berlin","command":["node","dist/jobs/cleanup.js"],
  "env":{"BATCH_SIZE":"500"},"timeout":900,"retries":3},
 {"name":"hourly-report","schedule":"rate(1 hour)","command":["node","dist/jobs/report.js"],"timeout":0,"memory":1024}
]`

// testRuntime is the app's runtime as AppService and EcsCluster would hand it over.
func testRuntime(cfg *config.Config) infra.AppRuntime {
	return infra.AppRuntime{
		ClusterArn: pulumi.String(clusterArn), CapacityProviderName: pulumi.String("cluster-capacity-1"),
		TaskRoleArn: pulumi.String(taskRoleArn), ExecutionRoleArn: pulumi.String(execRoleArn),
		LogGroupName: pulumi.String("/ecs/ecs-api-test-api"), Service: cfg.Service, Region: cfg.Region,
	}
}

func buildJobs(t *testing.T, overrides map[string]string) *pulumitest.Mocks {
	t.Helper()
	return build(t, overrides, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewScheduledJobs(ctx, "jobs", &infra.ScheduledJobsArgs{Runtime: testRuntime(cfg), Jobs: cfg.Jobs, Partition: "aws"})
		return err
	})
}

func jobContainer(t *testing.T, td *pulumitest.Resource) infra.ContainerDefinition {
	t.Helper()
	var defs []infra.ContainerDefinition
	if err := td.JSON("containerDefinitions", &defs); err != nil || len(defs) != 1 {
		t.Fatalf("%s: container definitions %v (%d)", td.Name, err, len(defs))
	}
	return defs[0]
}

// jobDefinition is the part of a job's state machine definition the tests read.
type jobDefinition struct {
	StartAt string
	States  map[string]struct {
		Type, Resource, Next, Default, Error string
		End                                  bool
		TimeoutSeconds                       int
		Parameters                           map[string]any
		ResultSelector                       map[string]string
		Retry                                []struct {
			ErrorEquals     []string
			IntervalSeconds int
			MaxAttempts     int
			BackoffRate     float64
		}
		Catch []struct {
			ErrorEquals []string
			Next        string
		}
		Choices []struct{ Next string }
	}
}

func machineDefinition(t *testing.T, m *pulumitest.Resource) jobDefinition {
	t.Helper()
	var def jobDefinition
	if err := m.JSON("definition", &def); err != nil {
		t.Fatalf("%s: definition: %v", m.Name, err)
	}
	return def
}

// TestEachScheduleStartsItsJobsStateMachine: Scheduler starts the job's state machine, which guards
// against overlap, runs exactly one task synchronously (runTask.sync: the run's outcome is the
// task's), retries failures with backoff, bounds the run's time, and ends FAILED when all that fails.
func TestEachScheduleStartsItsJobsStateMachine(t *testing.T) {
	m := buildJobs(t, map[string]string{"jobs": twoJobs, "logRetentionDays": "90"})
	if n := len(m.OfType(scheduleType)); n != 2 {
		t.Fatalf("%d schedules, want one per job", n)
	}
	dlq := one(t, m, "aws:sqs/queue:Queue")
	for _, tc := range []struct {
		job, expr, tz    string
		retries, timeout int
	}{
		{"nightly-cleanup", "cron(0 3 * * ? *)", "Europe/Berlin", 3, 900 + 30 + infra.JobStartAllowanceSeconds},
		{"hourly-report", "rate(1 hour)", "UTC", config.DefaultJobRetries, 0},
	} {
		s := named(t, m, scheduleType, "jobs-"+tc.job)
		machine := named(t, m, "aws:sfn/stateMachine:StateMachine", "jobs-"+tc.job)
		td := named(t, m, taskDefType, "jobs-"+tc.job+"-task")
		if s.Str("scheduleExpression") != tc.expr || s.Str("scheduleExpressionTimezone") != tc.tz || s.Str("flexibleTimeWindow.mode") != "OFF" {
			t.Errorf("%s: schedule %q in %q, window %q", tc.job, s.Str("scheduleExpression"), s.Str("scheduleExpressionTimezone"), s.Str("flexibleTimeWindow.mode"))
		}
		if s.Str("target.arn") != machine.Out("arn") || s.Has("target.ecsParameters") || s.Str("target.input") != "{}" {
			t.Errorf("%s: schedule targets %q (ECS parameters %v), want the job's state machine", tc.job, s.Str("target.arn"), s.Has("target.ecsParameters"))
		}
		if s.Str("target.deadLetterConfig.arn") != dlq.Out("arn") || s.Num("target.retryPolicy.maximumRetryAttempts") < 1 {
			t.Errorf("%s: runs that cannot start are not retried and reported", tc.job)
		}
		if machine.Str("type") != "STANDARD" {
			t.Errorf("%s: %s workflow; a standard one keeps each run's history", tc.job, machine.Str("type"))
		}

		def := machineDefinition(t, machine)
		note := def.States[def.StartAt]
		guard := def.States[note.Next]
		if def.StartAt != infra.JobNoteRunState || note.Type != "Pass" || note.Parameters["self.$"] != "$$.Execution.Id" ||
			note.Next != infra.JobGuardState || guard.Resource != "arn:aws:states:::aws-sdk:sfn:listExecutions" ||
			guard.Parameters["StateMachineArn.$"] != "$$.StateMachine.Id" || guard.Parameters["StatusFilter"] != "RUNNING" {
			t.Errorf("%s: the run does not start by noting its id and listing its own running executions: %+v, %+v", tc.job, note, guard)
		}
		// Which listings skip is TestJobGuardSkipsOnlyWhenAnotherRunIsListed's.
		choice := def.States[guard.Next]
		if choice.Type != "Choice" || len(choice.Choices) != 1 || def.States[choice.Choices[0].Next].Error != infra.ErrJobAlreadyRunning {
			t.Errorf("%s: a run still going does not make the new one fail as skipped: %+v", tc.job, choice)
		}
		run := def.States[choice.Default]
		strategy, _ := run.Parameters["CapacityProviderStrategy"].([]any)
		if run.Resource != "arn:aws:states:::ecs:runTask.sync" || run.Parameters["Cluster"] != clusterArn ||
			run.Parameters["TaskDefinition"] != td.Out("arn") || len(strategy) != 1 || run.Parameters["Count"] != nil || !run.End {
			t.Errorf("%s: run state %+v, want one task of the job's definition, synchronously, in the cluster", tc.job, run)
		}
		if p, _ := strategy[0].(map[string]any); p["CapacityProvider"] != "cluster-capacity-1" {
			t.Errorf("%s: not placed through the capacity provider: %v", tc.job, strategy)
		}
		if run.TimeoutSeconds != tc.timeout {
			t.Errorf("%s: run state timeout %d, want %d", tc.job, run.TimeoutSeconds, tc.timeout)
		}
		if len(run.Retry) != 1 || run.Retry[0].MaxAttempts != tc.retries || run.Retry[0].BackoffRate < 2 ||
			run.Retry[0].IntervalSeconds != infra.JobRetryIntervalSeconds ||
			strings.Join(run.Retry[0].ErrorEquals, ",") != strings.Join(infra.JobRetryErrors, ",") {
			t.Errorf("%s: retries %+v, want %d with backoff on a failed task or ECS refusing", tc.job, run.Retry, tc.retries)
		}
		if strings.Contains(strings.Join(run.Retry[0].ErrorEquals, ","), "States.Timeout") {
			t.Errorf("%s: a timed-out run is retried, doubling its limit", tc.job)
		}
		// A failed run stops its tasks, if any, then fails (TestJobFailureStopsTheRunsTasksThenFails).
		if len(run.Catch) != 1 || run.Catch[0].ErrorEquals[0] != "States.ALL" || run.Catch[0].Next != infra.JobFindTasksState {
			t.Fatalf("%s: a run that fails after its retries does not go on to stop its tasks: %+v", tc.job, run.Catch)
		}
		anyLeft := def.States[def.States[run.Catch[0].Next].Next]
		if anyLeft.Type != "Choice" || len(anyLeft.Choices) != 1 || anyLeft.Default != infra.JobFailedState ||
			def.States[anyLeft.Choices[0].Next].Next != infra.JobFailedState || def.States[infra.JobFailedState].Error != infra.ErrJobFailed {
			t.Errorf("%s: a run that fails after its retries does not stop its tasks and end as %s: %+v", tc.job, infra.ErrJobFailed, anyLeft)
		}

		logs := named(t, m, "aws:cloudwatch/logGroup:LogGroup", "jobs-"+tc.job+"-run-logs")
		if machine.Str("loggingConfiguration.logDestination") != logs.Out("arn")+":*" || machine.Str("loggingConfiguration.level") != "ALL" ||
			!machine.Bool("loggingConfiguration.includeExecutionData") {
			t.Errorf("%s: runs are not logged: %v", tc.job, machine.Inputs["loggingConfiguration"])
		}
		if logs.Str("name") != "/aws/vendedlogs/states/ecs-api-test-job-"+tc.job || logs.Num("retentionInDays") != 90 {
			t.Errorf("%s: run log group %q kept %v days, want the stack's retention", tc.job, logs.Str("name"), logs.Num("retentionInDays"))
		}
	}
	if !dlq.Bool("sqsManagedSseEnabled") {
		t.Error("dead-letter queue is not encrypted")
	}
}

func TestJobTaskReusesTheAppContainerWithItsOwnCommand(t *testing.T) {
	m := buildJobs(t, map[string]string{
		"jobs": twoJobs, "env": `{"NODE_ENV":"production"}`,
		"secrets": `{"DB_PASSWORD":"` + managedSecret + `"}`,
	})
	td := named(t, m, taskDefType, "jobs-nightly-cleanup-task")
	if td.Str("taskRoleArn") != taskRoleArn || td.Str("executionRoleArn") != execRoleArn || td.Str("networkMode") != "bridge" {
		t.Errorf("job task roles %q %q mode %q", td.Str("taskRoleArn"), td.Str("executionRoleArn"), td.Str("networkMode"))
	}
	if td.Str("family") != "ecs-api-test-job-nightly-cleanup" {
		t.Errorf("family %q", td.Str("family"))
	}
	c := jobContainer(t, td)
	if c.Image != testImage {
		t.Errorf("job image %q, want the app's", c.Image)
	}
	if got := strings.Join(c.Command, " "); got != "timeout -k 30 900 node dist/jobs/cleanup.js" {
		t.Errorf("command %q, want the job's command under a 900 s timeout", got)
	}
	env := map[string]string{}
	for _, e := range c.Environment {
		env[e.Name] = e.Value
	}
	if env["CRON_ENABLED"] != "true" || env["NODE_ENV"] != "production" || env["BATCH_SIZE"] != "500" {
		t.Errorf("job environment %v, want the app's plus the job's, with CRON_ENABLED=true", env)
	}
	if len(c.Secrets) != 1 || c.Secrets[0].ValueFrom != managedSecret {
		t.Errorf("job secrets %+v, want the app's", c.Secrets)
	}
	if c.LogConfiguration.Options["awslogs-stream-prefix"] != "job-nightly-cleanup" || c.LogConfiguration.Options["awslogs-group"] != "/ecs/ecs-api-test-api" {
		t.Errorf("job logs %v, want the app's group under its own prefix", c.LogConfiguration.Options)
	}
	if len(c.PortMappings) != 0 {
		t.Errorf("job maps ports %v; it serves nothing", c.PortMappings)
	}

	report := jobContainer(t, named(t, m, taskDefType, "jobs-hourly-report-task"))
	if strings.Join(report.Command, " ") != "node dist/jobs/report.js" || report.Memory != 1024 || report.CPU != 256 {
		t.Errorf("timeout 0 job: command %v memory %d cpu %d", report.Command, report.Memory, report.CPU)
	}
}

// grants reads a role policy into action -> statement, failing on wildcard actions.
func grants(t *testing.T, policy *pulumitest.Resource) map[string]infra.PolicyStatement {
	t.Helper()
	var doc infra.PolicyDocument
	if err := policy.JSON("policy", &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]infra.PolicyStatement{}
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %q", policy.Name, a)
			}
			out[a] = st
		}
	}
	return out
}

func trusts(t *testing.T, role *pulumitest.Resource) string {
	t.Helper()
	var trust infra.PolicyDocument
	if err := role.JSON("assumeRolePolicy", &trust); err != nil || len(trust.Statement) != 1 {
		t.Fatalf("%s trust %+v (%v)", role.Name, trust, err)
	}
	return trust.Statement[0].Principal["Service"]
}

// TestJobRolesAreScopedToTheJob: Scheduler may start only the job's state machine and report to
// the queue; the state machine may run only the job's task definition family in the cluster, watch,
// find and stop those tasks, pass only the job's two roles, keep the rule runTask.sync needs ("IAM policies
// for Amazon ECS/AWS Fargate", Step Functions guide), list its own runs, and deliver its logs.
func TestJobRolesAreScopedToTheJob(t *testing.T) {
	m := buildJobs(t, map[string]string{"jobs": twoJobs})
	machine := named(t, m, "aws:sfn/stateMachine:StateMachine", "jobs-nightly-cleanup")
	schedule := named(t, m, scheduleType, "jobs-nightly-cleanup")
	dlq := one(t, m, "aws:sqs/queue:Queue")

	schedulerRole := named(t, m, "aws:iam/role:Role", "jobs-nightly-cleanup-scheduler-role")
	if trusts(t, schedulerRole) != "scheduler.amazonaws.com" || schedule.Str("target.roleArn") != schedulerRole.Out("arn") {
		t.Error("the schedule does not use its own role trusting only Scheduler")
	}
	schedulerPolicy := named(t, m, "aws:iam/rolePolicy:RolePolicy", "jobs-nightly-cleanup-scheduler-policy")
	g := grants(t, schedulerPolicy)
	if len(g) != 2 || strings.Join(g["states:StartExecution"].Resource, ",") != machine.Out("arn") ||
		strings.Join(g["sqs:SendMessage"].Resource, ",") != dlq.Out("arn") || schedulerPolicy.Str("role") != schedulerRole.Out("name") {
		t.Errorf("scheduler may %v, want StartExecution on the job's state machine and SendMessage to the queue", g)
	}

	runRole := named(t, m, "aws:iam/role:Role", "jobs-nightly-cleanup-run-role")
	if trusts(t, runRole) != "states.amazonaws.com" || machine.Str("roleArn") != runRole.Out("arn") {
		t.Error("the state machine does not use its own role trusting only Step Functions")
	}
	runPolicy := named(t, m, "aws:iam/rolePolicy:RolePolicy", "jobs-nightly-cleanup-run-policy")
	g = grants(t, runPolicy)
	tasks := "arn:aws:ecs:us-east-1:123456789012:task/cluster-1/*"
	want := map[string]string{
		"ecs:RunTask":           "arn:aws:ecs:us-east-1:123456789012:task-definition/ecs-api-test-job-nightly-cleanup:*",
		"ecs:DescribeTasks":     tasks,
		"ecs:StopTask":          tasks,
		"ecs:ListTasks":         "*", // in the cluster only: TestJobRunMayListTasksOnlyInItsCluster
		"ecs:TagResource":       tasks,
		"iam:PassRole":          strings.Join(sorted([]string{taskRoleArn, execRoleArn}), ","),
		"events:PutRule":        "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule",
		"events:PutTargets":     "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule",
		"events:DescribeRule":   "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule",
		"states:ListExecutions": machine.Out("arn"),
	}
	if len(g) != len(want) {
		t.Errorf("run role may %d actions, want exactly %d", len(g), len(want))
	}
	for action, resource := range want {
		if got := strings.Join(sorted(g[action].Resource), ","); got != resource {
			t.Errorf("%s on %q, want %q", action, got, resource)
		}
	}
	if g["ecs:RunTask"].Condition["ArnEquals"]["ecs:cluster"] != clusterArn || g["ecs:StopTask"].Condition["ArnEquals"]["ecs:cluster"] != clusterArn {
		t.Error("the job's tasks are not confined to the cluster")
	}
	if g["iam:PassRole"].Condition["StringEquals"]["iam:PassedToService"] != "ecs-tasks.amazonaws.com" {
		t.Error("the job's roles may be passed to other services than ECS tasks")
	}
	logsPolicy := named(t, m, "aws:iam/rolePolicy:RolePolicy", "jobs-nightly-cleanup-run-logs")
	for action, st := range grants(t, logsPolicy) {
		if !strings.HasPrefix(action, "logs:") || strings.Join(st.Resource, ",") != "*" {
			t.Errorf("logs policy grants %s on %v", action, st.Resource)
		}
	}
	// CreateStateMachine checks the log delivery permissions; the first run may come right away.
	if !machine.DependsOn(logsPolicy) || !schedule.DependsOn(schedulerPolicy) || !schedule.DependsOn(runPolicy) {
		t.Error("the state machine or the schedule can exist before the permissions they need")
	}
}

func TestWorkerIsASingletonWithoutLoadBalancer(t *testing.T) {
	worker := `{"enabled":true,"command":["node","dist/worker.js"],"env":{"QUEUE":"orders"},"memory":768}`
	m := build(t, map[string]string{"worker": worker}, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewWorker(ctx, "worker", &infra.WorkerArgs{Runtime: testRuntime(cfg), Config: cfg.Worker})
		return err
	})
	svc := one(t, m, "aws:ecs/service:Service")
	if svc.Num("desiredCount") != 1 || svc.Num("deploymentMinimumHealthyPercent") != 0 || svc.Num("deploymentMaximumPercent") != 100 {
		t.Errorf("worker desired %v min %v max %v, want 1 / 0 %% / 100 %%", svc.Num("desiredCount"),
			svc.Num("deploymentMinimumHealthyPercent"), svc.Num("deploymentMaximumPercent"))
	}
	if svc.Has("loadBalancers") || svc.Str("capacityProviderStrategies.0.capacityProvider") != "cluster-capacity-1" {
		t.Errorf("worker load balancers %v, strategy %v", svc.Inputs["loadBalancers"], svc.Inputs["capacityProviderStrategies"])
	}
	c := jobContainer(t, one(t, m, taskDefType))
	env := map[string]string{}
	for _, e := range c.Environment {
		env[e.Name] = e.Value
	}
	if strings.Join(c.Command, " ") != "node dist/worker.js" || env["QUEUE"] != "orders" || env["CRON_ENABLED"] != "false" || c.Memory != 768 {
		t.Errorf("worker container command %v env %v memory %d", c.Command, env, c.Memory)
	}
	if c.LogConfiguration.Options["awslogs-stream-prefix"] != "worker" || len(c.PortMappings) != 0 {
		t.Errorf("worker logs %v ports %v", c.LogConfiguration.Options, c.PortMappings)
	}
}
