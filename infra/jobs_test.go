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
		_, err := infra.NewScheduledJobs(ctx, "jobs", &infra.ScheduledJobsArgs{Runtime: testRuntime(cfg), Jobs: cfg.Jobs})
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

func TestEachJobHasOneScheduleRunningOneTask(t *testing.T) {
	m := buildJobs(t, map[string]string{"jobs": twoJobs})
	schedules := m.OfType(scheduleType)
	if len(schedules) != 2 {
		t.Fatalf("%d schedules, want one per job", len(schedules))
	}
	dlq := one(t, m, "aws:sqs/queue:Queue")
	for _, tc := range []struct{ job, expr, tz string }{
		{"nightly-cleanup", "cron(0 3 * * ? *)", "Europe/Berlin"},
		{"hourly-report", "rate(1 hour)", "UTC"},
	} {
		s := named(t, m, scheduleType, "jobs-"+tc.job)
		td := named(t, m, taskDefType, "jobs-"+tc.job+"-task")
		if s.Str("scheduleExpression") != tc.expr || s.Str("scheduleExpressionTimezone") != tc.tz || s.Str("flexibleTimeWindow.mode") != "OFF" {
			t.Errorf("%s: schedule %q in %q, window %q", tc.job, s.Str("scheduleExpression"), s.Str("scheduleExpressionTimezone"), s.Str("flexibleTimeWindow.mode"))
		}
		ecs := "target.ecsParameters."
		if s.Num(ecs+"taskCount") != 1 {
			t.Errorf("%s: task count %v, want exactly 1", tc.job, s.Num(ecs+"taskCount"))
		}
		if s.Str("target.arn") != clusterArn || s.Str(ecs+"taskDefinitionArn") != td.Out("arn") {
			t.Errorf("%s: target %q runs %q, want the cluster and the job's task definition", tc.job, s.Str("target.arn"), s.Str(ecs+"taskDefinitionArn"))
		}
		if s.Str(ecs+"capacityProviderStrategies.0.capacityProvider") != "cluster-capacity-1" || s.Has(ecs+"launchType") {
			t.Errorf("%s: not placed through the capacity provider", tc.job)
		}
		if s.Str("target.deadLetterConfig.arn") != dlq.Out("arn") {
			t.Errorf("%s: failed invocations do not go to the dead-letter queue", tc.job)
		}
	}
	if got := named(t, m, scheduleType, "jobs-nightly-cleanup").Num("target.retryPolicy.maximumRetryAttempts"); got != 3 {
		t.Errorf("retries %v, want 3", got)
	}
	if got := named(t, m, scheduleType, "jobs-hourly-report").Num("target.retryPolicy.maximumRetryAttempts"); got != config.DefaultJobRetries {
		t.Errorf("default retries %v, want %d", got, config.DefaultJobRetries)
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

func TestSchedulerRoleIsScopedToTheJob(t *testing.T) {
	m := buildJobs(t, map[string]string{"jobs": twoJobs})
	role := named(t, m, "aws:iam/role:Role", "jobs-nightly-cleanup-scheduler-role")
	var trust infra.PolicyDocument
	if err := role.JSON("assumeRolePolicy", &trust); err != nil {
		t.Fatal(err)
	}
	if len(trust.Statement) != 1 || trust.Statement[0].Principal["Service"] != "scheduler.amazonaws.com" {
		t.Errorf("scheduler role trust %+v", trust)
	}
	s := named(t, m, scheduleType, "jobs-nightly-cleanup")
	if s.Str("target.roleArn") != role.Out("arn") {
		t.Error("schedule does not use its own role")
	}
	policy := named(t, m, "aws:iam/rolePolicy:RolePolicy", "jobs-nightly-cleanup-scheduler-policy")
	if policy.Str("role") != role.Out("name") {
		t.Error("policy is on another role")
	}
	var doc infra.PolicyDocument
	if err := policy.JSON("policy", &doc); err != nil {
		t.Fatal(err)
	}
	td := named(t, m, taskDefType, "jobs-nightly-cleanup-task")
	grants := map[string]infra.PolicyStatement{}
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("wildcard action %q", a)
			}
			grants[a] = st
		}
		for _, r := range st.Resource {
			if r == "*" {
				t.Errorf("%v on every resource", st.Action)
			}
		}
	}
	if len(grants) != 4 {
		t.Errorf("actions %v, want RunTask, TagResource, PassRole, SendMessage", grants)
	}
	run := grants["ecs:RunTask"]
	if strings.Join(run.Resource, ",") != td.Out("arn") || run.Condition["ArnEquals"]["ecs:cluster"] != clusterArn {
		t.Errorf("RunTask on %v in %v, want only the job's task definition in the cluster", run.Resource, run.Condition)
	}
	pass := grants["iam:PassRole"]
	if strings.Join(sorted(pass.Resource), ",") != strings.Join(sorted([]string{taskRoleArn, execRoleArn}), ",") ||
		pass.Condition["StringEquals"]["iam:PassedToService"] != "ecs-tasks.amazonaws.com" {
		t.Errorf("PassRole on %v %v, want exactly the job's two roles, to ECS tasks", pass.Resource, pass.Condition)
	}
	if tag := grants["ecs:TagResource"]; tag.Resource[0] != "arn:aws:ecs:us-east-1:123456789012:task/cluster-1/*" {
		t.Errorf("TagResource on %v, want the cluster's tasks", tag.Resource)
	}
	if send := grants["sqs:SendMessage"]; strings.Join(send.Resource, ",") != one(t, m, "aws:sqs/queue:Queue").Out("arn") {
		t.Errorf("SendMessage on %v, want the dead-letter queue", send.Resource)
	}
	if !s.DependsOn(policy) {
		t.Error("schedule may fire before its role may run the task")
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
