package infra

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/scheduler"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// jobEventMaxAge is how long EventBridge Scheduler keeps retrying one invocation.
const jobEventMaxAge = 3600

// ScheduledJobs runs each configured job once per schedule, as exactly one ECS task, the way CDK's
// ScheduledEc2Task and Copilot's scheduled jobs do; with N API replicas an in-process cron would run N times.
type ScheduledJobs struct {
	pulumi.ResourceState

	// TaskDefinitionArns maps each job's name to its task definition, for running it by hand.
	TaskDefinitionArns pulumi.StringMapOutput `pulumi:"taskDefinitionArns"`
	DeadLetterQueueArn pulumi.StringOutput    `pulumi:"deadLetterQueueArn"`
	DeadLetterQueueURL pulumi.StringOutput    `pulumi:"deadLetterQueueUrl"`
}

// ScheduledJobsArgs: the jobs run the app's code in the app's runtime (cluster, roles, logs).
type ScheduledJobsArgs struct {
	Runtime AppRuntime
	Jobs    []config.JobConfig
}

// NewScheduledJobs creates a dead-letter queue shared by the jobs and, per job, a task definition,
// a scheduler role scoped to it, and the schedule.
func NewScheduledJobs(ctx *pulumi.Context, name string, args *ScheduledJobsArgs, opts ...pulumi.ResourceOption) (*ScheduledJobs, error) {
	if args == nil || len(args.Jobs) == 0 {
		return nil, fmt.Errorf("scheduled jobs %s: at least one job is required", name)
	}
	j := &ScheduledJobs{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "ScheduledJobs"), name, j, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(j)

	// Invocations whose RunTask call still fails after the retries (throttling, a missing permission,
	// a task definition that cannot run) land here to be seen. A task that waits for capacity is not
	// a failed invocation: with a capacity provider RunTask succeeds and the task waits in
	// PROVISIONING until an instance has room, or until ECS gives up and stops it; nothing retries it.
	dlq, err := sqs.NewQueue(ctx, name+"-dlq", &sqs.QueueArgs{
		SqsManagedSseEnabled:    pulumi.Bool(true),
		MessageRetentionSeconds: pulumi.Int(14 * 24 * 3600),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("scheduled jobs %s: dead-letter queue: %w", name, err)
	}

	arns := pulumi.StringMap{}
	for _, job := range args.Jobs {
		td, err := j.job(ctx, name, job, args, dlq, parent)
		if err != nil {
			return nil, err
		}
		arns[job.Name] = td.Arn
	}

	j.TaskDefinitionArns = arns.ToStringMapOutput()
	j.DeadLetterQueueArn = dlq.Arn
	j.DeadLetterQueueURL = dlq.Url
	return j, ctx.RegisterResourceOutputs(j, pulumi.Map{
		"taskDefinitionArns": j.TaskDefinitionArns,
		"deadLetterQueueArn": j.DeadLetterQueueArn,
		"deadLetterQueueUrl": j.DeadLetterQueueURL,
	})
}

// job creates one job's task definition, role and schedule.
func (j *ScheduledJobs) job(ctx *pulumi.Context, name string, job config.JobConfig, args *ScheduledJobsArgs, dlq *sqs.Queue,
	parent pulumi.ResourceOption) (*ecs.TaskDefinition, error) {
	prefix := name + "-" + job.Name
	rt := args.Runtime
	td, err := newTaskDefinition(ctx, prefix+"-task", rt, taskSpec{
		Family:       taskFamily(ctx.Project(), ctx.Stack(), "job-"+job.Name),
		Env:          withVars(job.Env, map[string]string{rt.Service.CronFlag: "true"}),
		Command:      jobCommand(job),
		CPU:          cmp.Or(job.CPU, rt.Service.CPU),
		Memory:       cmp.Or(job.Memory, rt.Service.Memory),
		StreamPrefix: "job-" + job.Name,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", job.Name, err)
	}

	role, err := iam.NewRole(ctx, prefix+"-scheduler-role", &iam.RoleArgs{
		Description:      pulumi.Sprintf("EventBridge Scheduler: run the %s job", job.Name),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy("scheduler.amazonaws.com")),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("job %s: scheduler role: %w", job.Name, err)
	}
	policy := pulumi.All(td.Arn, rt.ClusterArn, rt.TaskRoleArn, rt.ExecutionRoleArn, dlq.Arn).ApplyT(func(v []any) string {
		return schedulerPolicy(v[0].(string), v[1].(string), v[2].(string), v[3].(string), v[4].(string))
	}).(pulumi.StringOutput)
	rolePolicy, err := iam.NewRolePolicy(ctx, prefix+"-scheduler-policy", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: policy,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("job %s: scheduler policy: %w", job.Name, err)
	}

	if _, err := scheduler.NewSchedule(ctx, prefix, &scheduler.ScheduleArgs{
		Description:                pulumi.String(jobDescription(job)),
		ScheduleExpression:         pulumi.String(job.Schedule),
		ScheduleExpressionTimezone: pulumi.String(job.Timezone),
		FlexibleTimeWindow:         &scheduler.ScheduleFlexibleTimeWindowArgs{Mode: pulumi.String("OFF")},
		State:                      pulumi.String("ENABLED"),
		Target: &scheduler.ScheduleTargetArgs{
			Arn:     rt.ClusterArn,
			RoleArn: role.Arn,
			EcsParameters: &scheduler.ScheduleTargetEcsParametersArgs{
				TaskDefinitionArn: td.Arn,
				TaskCount:         pulumi.Int(1),
				CapacityProviderStrategies: scheduler.ScheduleTargetEcsParametersCapacityProviderStrategyArray{
					&scheduler.ScheduleTargetEcsParametersCapacityProviderStrategyArgs{
						CapacityProvider: rt.CapacityProviderName,
						Weight:           pulumi.Int(1),
						Base:             pulumi.Int(0),
					},
				},
				EnableEcsManagedTags: pulumi.Bool(true),
				PropagateTags:        pulumi.String("TASK_DEFINITION"),
			},
			RetryPolicy: &scheduler.ScheduleTargetRetryPolicyArgs{
				MaximumRetryAttempts:     pulumi.Int(job.Retries),
				MaximumEventAgeInSeconds: pulumi.Int(jobEventMaxAge),
			},
			DeadLetterConfig: &scheduler.ScheduleTargetDeadLetterConfigArgs{Arn: dlq.Arn},
		},
		// The scheduler's policy and every policy of the task's roles must exist before the first
		// invocation, which may be right away.
	}, parent, pulumi.DependsOn([]pulumi.Resource{rolePolicy}), pulumi.DependsOn(rt.RolePolicies)); err != nil {
		return nil, fmt.Errorf("job %s: schedule: %w", job.Name, err)
	}
	return td, nil
}

// MaxScheduleDescription is EventBridge Scheduler's limit on a schedule's description (CreateSchedule,
// Description: "Maximum length of 512").
const MaxScheduleDescription = 512

// jobDescription says what the schedule runs; a long command is cut to fit Scheduler's limit.
func jobDescription(job config.JobConfig) string {
	return truncate(fmt.Sprintf("Runs the %s job once: %v", job.Name, job.Command), MaxScheduleDescription)
}

// truncate cuts s to at most limit bytes on a character boundary, marking the cut with "...".
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// jobCommand runs the job's command under `timeout`: SIGTERM at the limit, SIGKILL 30 s later,
// and a non-zero exit (124) that shows the task as failed.
func jobCommand(job config.JobConfig) []string {
	if job.Timeout == 0 {
		return job.Command
	}
	return append([]string{"timeout", "-k", "30", strconv.Itoa(job.Timeout)}, job.Command...)
}

// schedulerPolicy lets the scheduler start exactly this task definition in exactly this cluster,
// pass exactly the job's two roles to ECS, tag the task it starts, and report failures to the queue.
func schedulerPolicy(taskDefinitionArn, clusterArn, taskRoleArn, executionRoleArn, dlqArn string) string {
	tasks := strings.Replace(clusterArn, ":cluster/", ":task/", 1) + "/*"
	return PolicyDocument{Statement: []PolicyStatement{
		{
			Sid: "RunTheJobTask", Effect: "Allow", Action: []string{"ecs:RunTask"}, Resource: []string{taskDefinitionArn},
			Condition: map[string]map[string]string{"ArnEquals": {"ecs:cluster": clusterArn}},
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
			Sid: "ReportFailedInvocations", Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{dlqArn},
		},
	}}.JSON()
}
