package infra

import (
	"cmp"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/scheduler"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sfn"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// Starting a run is retried by EventBridge Scheduler for up to an hour, a few times; what still
// fails to start lands in the dead-letter queue.
const (
	jobEventMaxAge     = 3600
	jobStartRetries    = 3
	jobQueueRetentionS = 14 * 24 * 3600
)

// newDeadLetterQueue is where EventBridge Scheduler leaves the starts of a schedule it gave up on:
// encrypted with SQS's own key, kept 14 days, SQS's longest.
func newDeadLetterQueue(ctx *pulumi.Context, name string, parent pulumi.ResourceOrInvokeOption) (*sqs.Queue, error) {
	return sqs.NewQueue(ctx, name, &sqs.QueueArgs{
		SqsManagedSseEnabled:    pulumi.Bool(true),
		MessageRetentionSeconds: pulumi.Int(jobQueueRetentionS),
	}, parent)
}

// ScheduledJobs runs each configured job once per schedule, as exactly one ECS task, the way CDK's
// ScheduledEc2Task and Copilot's scheduled jobs do; with N API replicas an in-process cron would run N
// times. Each schedule starts the job's state machine (see jobrun.go), which refuses to overlap a run
// still going, runs the task synchronously, retries a failed run with backoff and bounds its time.
type ScheduledJobs struct {
	pulumi.ResourceState

	// TaskDefinitionArns maps each job's name to its task definition.
	TaskDefinitionArns pulumi.StringMapOutput `pulumi:"taskDefinitionArns"`
	// StateMachineArns maps each job's name to its state machine: start it to run the job by hand.
	StateMachineArns   pulumi.StringMapOutput `pulumi:"stateMachineArns"`
	DeadLetterQueueArn pulumi.StringOutput    `pulumi:"deadLetterQueueArn"`
	DeadLetterQueueURL pulumi.StringOutput    `pulumi:"deadLetterQueueUrl"`
	// DeadLetterQueueName names the queue in SQS's metrics.
	DeadLetterQueueName pulumi.StringOutput `pulumi:"deadLetterQueueName"`
	// Families maps each job's name to its task definition family: its tasks' group is "family:<family>".
	Families map[string]string
}

// ScheduledJobsArgs: the jobs run the app's code in the app's runtime (cluster, roles, logs).
type ScheduledJobsArgs struct {
	Runtime AppRuntime
	Jobs    []config.JobConfig
	// Partition and Region place the ARNs the state machines' policies name.
	Partition string
}

// NewScheduledJobs creates a dead-letter queue shared by the jobs and, per job, a task definition,
// a state machine with its role and log group, and a schedule with its role.
func NewScheduledJobs(ctx *pulumi.Context, name string, args *ScheduledJobsArgs, opts ...pulumi.ResourceOption) (*ScheduledJobs, error) {
	if args == nil || len(args.Jobs) == 0 {
		return nil, fmt.Errorf("scheduled jobs %s: at least one job is required", name)
	}
	if args.Partition == "" {
		return nil, fmt.Errorf("scheduled jobs %s: the partition is required: the run policies name ARNs", name)
	}
	j := &ScheduledJobs{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "ScheduledJobs"), name, j, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(j)

	// Runs that Scheduler could not start (StartExecution throttled or refused) after its retries.
	// A run that starts and fails is the state machine's: it retries, then ends FAILED in its history.
	dlq, err := newDeadLetterQueue(ctx, name+"-dlq", parent)
	if err != nil {
		return nil, fmt.Errorf("scheduled jobs %s: dead-letter queue: %w", name, err)
	}

	tds, machines := pulumi.StringMap{}, pulumi.StringMap{}
	for _, job := range args.Jobs {
		td, machine, err := j.job(ctx, name, job, args, dlq, parent)
		if err != nil {
			return nil, err
		}
		tds[job.Name] = td.Arn
		machines[job.Name] = machine.Arn
	}

	j.TaskDefinitionArns = tds.ToStringMapOutput()
	j.StateMachineArns = machines.ToStringMapOutput()
	j.DeadLetterQueueArn = dlq.Arn
	j.DeadLetterQueueURL = dlq.Url
	j.DeadLetterQueueName = dlq.Name
	return j, ctx.RegisterResourceOutputs(j, pulumi.Map{
		"taskDefinitionArns":  j.TaskDefinitionArns,
		"stateMachineArns":    j.StateMachineArns,
		"deadLetterQueueArn":  j.DeadLetterQueueArn,
		"deadLetterQueueUrl":  j.DeadLetterQueueURL,
		"deadLetterQueueName": j.DeadLetterQueueName,
	})
}

// job creates one job's task definition, state machine (role, policies, log group) and schedule
// (role, policy).
func (j *ScheduledJobs) job(ctx *pulumi.Context, name string, job config.JobConfig, args *ScheduledJobsArgs, dlq *sqs.Queue,
	parent pulumi.ResourceOrInvokeOption) (*ecs.TaskDefinition, *sfn.StateMachine, error) {
	prefix := name + "-" + job.Name
	rt := args.Runtime
	family := taskFamily(ctx.Project(), ctx.Stack(), "job-"+job.Name)
	if j.Families == nil {
		j.Families = map[string]string{}
	}
	j.Families[job.Name] = family
	fail := func(what string, err error) (*ecs.TaskDefinition, *sfn.StateMachine, error) {
		return nil, nil, fmt.Errorf("job %s: %s: %w", job.Name, what, err)
	}
	td, err := newTaskDefinition(ctx, prefix+"-task", rt, taskSpec{
		Family:       family,
		Env:          withVars(job.Env, map[string]string{rt.Service.CronFlag: "true"}),
		Command:      jobCommand(job),
		CPU:          cmp.Or(job.CPU, rt.Service.CPU),
		Memory:       cmp.Or(job.Memory, rt.Service.Memory),
		StreamPrefix: "job-" + job.Name,
	}, parent)
	if err != nil {
		return fail("task definition", err)
	}

	// The state machine: its role may deliver logs before it exists, and run the job once it does.
	runRole, err := newServiceRole(ctx, prefix+"-run-role", stepFunctions, pulumi.Sprintf("Step Functions: run the %s job's task", job.Name), parent)
	if err != nil {
		return fail("run role", err)
	}
	definition := pulumi.All(rt.ClusterArn, td.Arn, rt.CapacityProviderName).ApplyT(func(v []any) (string, error) {
		return JobRunDefinition(args.Partition, job, v[0].(string), v[1].(string), v[2].(string))
	}).(pulumi.StringOutput)
	machine, err := newLoggedStateMachine(ctx, prefix, prefix+"-run-logs", family, rt.Service.LogRetentionDays, runRole, definition, parent)
	if err != nil {
		return fail("run", err)
	}
	runPolicy, err := iam.NewRolePolicy(ctx, prefix+"-run-policy", &iam.RolePolicyArgs{
		Role: runRole.Name,
		Policy: pulumi.All(rt.ClusterArn, rt.TaskRoleArn, rt.ExecutionRoleArn, machine.Arn).ApplyT(func(v []any) string {
			return jobRunPolicy(args.Partition, rt.Region, v[0].(string), family, v[1].(string), v[2].(string), v[3].(string))
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return fail("run policy", err)
	}

	role, err := newServiceRole(ctx, prefix+"-scheduler-role", schedules, pulumi.Sprintf("EventBridge Scheduler: start the %s job's run", job.Name), parent)
	if err != nil {
		return fail("scheduler role", err)
	}
	schedulerPolicy, err := iam.NewRolePolicy(ctx, prefix+"-scheduler-policy", &iam.RolePolicyArgs{
		Role: role.Name,
		Policy: pulumi.All(machine.Arn, dlq.Arn).ApplyT(func(v []any) string {
			return PolicyDocument{Statement: []PolicyStatement{
				{Sid: "StartTheJobRun", Effect: "Allow", Action: []string{"states:StartExecution"}, Resource: []string{v[0].(string)}},
				{Sid: "ReportUnstartedRuns", Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{v[1].(string)}},
			}}.JSON()
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return fail("scheduler policy", err)
	}

	if _, err := scheduler.NewSchedule(ctx, prefix, &scheduler.ScheduleArgs{
		Description:                pulumi.String(jobDescription(job)),
		ScheduleExpression:         pulumi.String(job.Schedule),
		ScheduleExpressionTimezone: pulumi.String(job.Timezone),
		FlexibleTimeWindow:         &scheduler.ScheduleFlexibleTimeWindowArgs{Mode: pulumi.String("OFF")},
		State:                      pulumi.String("ENABLED"),
		Target: &scheduler.ScheduleTargetArgs{
			Arn:     machine.Arn,
			RoleArn: role.Arn,
			Input:   pulumi.String("{}"),
			RetryPolicy: &scheduler.ScheduleTargetRetryPolicyArgs{
				MaximumRetryAttempts:     pulumi.Int(jobStartRetries),
				MaximumEventAgeInSeconds: pulumi.Int(jobEventMaxAge),
			},
			DeadLetterConfig: &scheduler.ScheduleTargetDeadLetterConfigArgs{Arn: dlq.Arn},
		},
		// The first run may start right away: every policy of the scheduler's role, the run's role
		// and the task's roles must exist by then.
	}, parent, pulumi.DependsOn([]pulumi.Resource{schedulerPolicy, runPolicy}), pulumi.DependsOn(rt.RolePolicies)); err != nil {
		return fail("schedule", err)
	}
	return td, machine, nil
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

// jobCommand runs the job's command under `timeout`: SIGTERM at the limit, SIGKILL 30 s later, and
// exit code 124, so the run fails like any failed task (and is retried). This complements the run
// state's own limit (JobStateTimeout), which also counts the wait for an instance and the image pull,
// after which the run stops the task; the wrapper is the precise limit on the command itself.
func jobCommand(job config.JobConfig) []string {
	if job.Timeout == 0 {
		return job.Command
	}
	return append([]string{"timeout", "-k", "30", strconv.Itoa(job.Timeout)}, job.Command...)
}
