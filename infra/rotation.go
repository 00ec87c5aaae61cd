package infra

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/scheduler"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sfn"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RedeployOnRotation restarts every service whose tasks read a secret when Secrets Manager rotates
// it. ECS resolves a task's secrets once, when the task starts, so after RDS rotates the master
// password (every 7 days by default with manageMasterUserPassword) running tasks hold the old one
// and every new connection they open is refused. An EventBridge rule on the rotation starts a Step
// Functions state machine that forces a new deployment of each service (ECS UpdateService through
// the AWS SDK integration, no Lambda to maintain); the new tasks read the new password, and the
// usual rollout replaces the old ones.
//
// No AWS page says RDS-managed rotation emits RotationSucceeded, and EventBridge delivers AWS service
// events on a best-effort basis, so the event alone bounds nothing. A schedule also starts a
// reconcile every ReconcileMinutes, which redeploys exactly the services whose current deployment is
// older than the secret's last change (see ReconcileDefinition): whether or not the event fires, a
// task holds a rotated password for at most the rotation, one schedule period and one rollout.
type RedeployOnRotation struct {
	pulumi.ResourceState

	StateMachineArn pulumi.StringOutput `pulumi:"stateMachineArn"`
	RuleName        pulumi.StringOutput `pulumi:"ruleName"`
	// ReconcileStateMachineArn is the periodic reconcile's; a failed run means the stack could not
	// tell whether the tasks hold the current password.
	ReconcileStateMachineArn pulumi.StringOutput `pulumi:"reconcileStateMachineArn"`
	// ReconcileDeadLetterQueueName is the queue of the reconcile's starts that Scheduler gave up on,
	// as SQS's metrics name it: a message there means the reconcile did not run.
	ReconcileDeadLetterQueueName pulumi.StringOutput `pulumi:"reconcileDeadLetterQueueName"`
}

// RedeployOnRotationArgs: the secret from the database, the cluster and services that read it.
type RedeployOnRotationArgs struct {
	SecretArn    pulumi.StringInput
	ClusterArn   pulumi.StringInput
	ServiceNames []pulumi.StringInput
	Partition    string
	// LogRetentionDays keeps the state machine's run logs as long as the app's.
	LogRetentionDays int
}

// RotationEventPattern matches a successful rotation of one secret. Secrets Manager reports
// RotationSucceeded through CloudTrail with the secret in additionalEventData.SecretId ("Log AWS
// Secrets Manager events with AWS CloudTrail"); service events arrive as "AWS Service Event via
// CloudTrail" without a trail, and both detail types are matched in case the event is re-typed.
func RotationEventPattern(secretArn string) string {
	b, _ := json.Marshal(map[string]any{
		"source":      []string{"aws.secretsmanager"},
		"detail-type": []string{"AWS Service Event via CloudTrail", "AWS API Call via CloudTrail"},
		"detail": map[string]any{
			"eventSource":         []string{"secretsmanager.amazonaws.com"},
			"eventName":           []string{"RotationSucceeded"},
			"additionalEventData": map[string]any{"SecretId": []string{secretArn}},
		},
	})
	return string(b)
}

// NewRedeployOnRotation creates the state machine, its role, the rule and the rule's role, and the
// reconcile: its state machine and role, and the schedule and its role.
func NewRedeployOnRotation(ctx *pulumi.Context, name string, args *RedeployOnRotationArgs, opts ...pulumi.ResourceOption) (*RedeployOnRotation, error) {
	if args == nil || len(args.ServiceNames) == 0 {
		return nil, fmt.Errorf("redeploy on rotation %s: at least one service is required", name)
	}
	if args.Partition == "" {
		return nil, fmt.Errorf("redeploy on rotation %s: the partition is required: the state machine names ARNs", name)
	}
	if args.LogRetentionDays < 1 {
		return nil, fmt.Errorf("redeploy on rotation %s: the log retention is required: CloudWatch would keep the run logs forever", name)
	}
	r := &RedeployOnRotation{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "RedeployOnRotation"), name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	services := pulumi.StringArray{}
	for _, s := range args.ServiceNames {
		services = append(services, s)
	}
	target := pulumi.All(args.ClusterArn, services.ToStringArrayOutput())

	machineRole, err := newServiceRole(ctx, name+"-sfn-role", stepFunctions, pulumi.String("Step Functions: force a new deployment of the services that read a rotated secret"), parent)
	if err != nil {
		return nil, fmt.Errorf("redeploy on rotation %s: state machine role: %w", name, err)
	}
	machinePolicy, err := iam.NewRolePolicy(ctx, name+"-sfn-policy", &iam.RolePolicyArgs{
		Role: machineRole.Name,
		Policy: target.ApplyT(func(v []any) string {
			return redeployPolicy(v[0].(string), v[1].([]string))
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("redeploy on rotation %s: state machine policy: %w", name, err)
	}
	definition := target.ApplyT(func(v []any) (string, error) {
		return RedeployDefinition(args.Partition, v[0].(string), v[1].([]string))
	}).(pulumi.StringOutput)
	// Its first run may come days later, but never before it may update the services.
	machine, err := newLoggedStateMachine(ctx, name, name+"-sfn-logs", taskFamily(ctx.Project(), ctx.Stack(), name),
		args.LogRetentionDays, machineRole, definition, parent, machinePolicy)
	if err != nil {
		return nil, fmt.Errorf("redeploy on rotation %s: %w", name, err)
	}

	rule, err := cloudwatch.NewEventRule(ctx, name+"-rule", &cloudwatch.EventRuleArgs{
		Description:  pulumi.String("A rotation of the database secret redeploys the services that read it"),
		EventPattern: args.SecretArn.ToStringOutput().ApplyT(RotationEventPattern).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("redeploy on rotation %s: rule: %w", name, err)
	}
	eventsRole, err := newServiceRole(ctx, name+"-events-role", eventBridge, pulumi.String("EventBridge: start the redeploy state machine"), parent)
	if err != nil {
		return nil, fmt.Errorf("redeploy on rotation %s: rule role: %w", name, err)
	}
	eventsPolicy, err := iam.NewRolePolicy(ctx, name+"-events-policy", &iam.RolePolicyArgs{
		Role: eventsRole.Name,
		Policy: machine.Arn.ApplyT(func(arn string) string {
			return PolicyDocument{Statement: []PolicyStatement{{
				Sid: "StartTheRedeploy", Effect: "Allow", Action: []string{"states:StartExecution"}, Resource: []string{arn},
			}}}.JSON()
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("redeploy on rotation %s: rule policy: %w", name, err)
	}
	if _, err := cloudwatch.NewEventTarget(ctx, name+"-target", &cloudwatch.EventTargetArgs{
		Rule:    rule.Name,
		Arn:     machine.Arn,
		RoleArn: eventsRole.Arn,
	}, parent, pulumi.DependsOn([]pulumi.Resource{eventsPolicy})); err != nil {
		return nil, fmt.Errorf("redeploy on rotation %s: target: %w", name, err)
	}

	reconcile, dlq, err := newReconcile(ctx, name, args, target, parent)
	if err != nil {
		return nil, fmt.Errorf("redeploy on rotation %s: %w", name, err)
	}

	r.StateMachineArn = machine.Arn
	r.RuleName = rule.Name
	r.ReconcileStateMachineArn = reconcile.Arn
	r.ReconcileDeadLetterQueueName = dlq.Name
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{
		"stateMachineArn":              r.StateMachineArn,
		"ruleName":                     r.RuleName,
		"reconcileStateMachineArn":     r.ReconcileStateMachineArn,
		"reconcileDeadLetterQueueName": r.ReconcileDeadLetterQueueName,
	})
}

// newReconcile creates the reconcile's state machine (role, policy, logs), the schedule that starts
// it (role, policy) and the dead-letter queue of the starts the schedule gives up on.
func newReconcile(ctx *pulumi.Context, name string, args *RedeployOnRotationArgs, target pulumi.ArrayOutput,
	parent pulumi.ResourceOrInvokeOption) (*sfn.StateMachine, *sqs.Queue, error) {
	prefix := name + "-reconcile"
	inputs := pulumi.All(args.SecretArn, target)
	role, err := newServiceRole(ctx, prefix+"-sfn-role", stepFunctions,
		pulumi.String("Step Functions: redeploy the services whose tasks started before the database secret last changed"), parent)
	if err != nil {
		return nil, nil, fmt.Errorf("reconcile role: %w", err)
	}
	policy, err := iam.NewRolePolicy(ctx, prefix+"-sfn-policy", &iam.RolePolicyArgs{
		Role: role.Name,
		Policy: inputs.ApplyT(func(v []any) string {
			t := v[1].([]any)
			return reconcilePolicy(v[0].(string), t[0].(string), t[1].([]string))
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("reconcile policy: %w", err)
	}
	definition := inputs.ApplyT(func(v []any) (string, error) {
		t := v[1].([]any)
		return ReconcileDefinition(args.Partition, v[0].(string), t[0].(string), t[1].([]string))
	}).(pulumi.StringOutput)
	machine, err := newLoggedStateMachine(ctx, prefix, prefix+"-sfn-logs", taskFamily(ctx.Project(), ctx.Stack(), prefix),
		args.LogRetentionDays, role, definition, parent, policy)
	if err != nil {
		return nil, nil, fmt.Errorf("reconcile: %w", err)
	}

	// A start Scheduler gives up on (after its retries, or refused outright: a role that may not
	// start the machine) lands here, and an alarm tells: the schedule alone would drop it silently,
	// and a reconcile that never runs bounds nothing.
	dlq, err := newDeadLetterQueue(ctx, prefix+"-dlq", parent)
	if err != nil {
		return nil, nil, fmt.Errorf("reconcile dead-letter queue: %w", err)
	}
	schedulerRole, err := newServiceRole(ctx, prefix+"-scheduler-role", schedules, pulumi.String("EventBridge Scheduler: start the rotation reconcile"), parent)
	if err != nil {
		return nil, nil, fmt.Errorf("reconcile scheduler role: %w", err)
	}
	schedulerPolicy, err := iam.NewRolePolicy(ctx, prefix+"-scheduler-policy", &iam.RolePolicyArgs{
		Role: schedulerRole.Name,
		Policy: pulumi.All(machine.Arn, dlq.Arn).ApplyT(func(v []any) string {
			return PolicyDocument{Statement: []PolicyStatement{
				{Sid: "StartTheReconcile", Effect: "Allow", Action: []string{"states:StartExecution"}, Resource: []string{v[0].(string)}},
				{Sid: "ReportUnstartedRuns", Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{v[1].(string)}},
			}}.JSON()
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("reconcile scheduler policy: %w", err)
	}
	if _, err := scheduler.NewSchedule(ctx, prefix, &scheduler.ScheduleArgs{
		Description:        pulumi.String(fmt.Sprintf("Every %d minutes, redeploys the services whose tasks may hold a rotated database password", ReconcileMinutes)),
		ScheduleExpression: pulumi.String(fmt.Sprintf("rate(%d minutes)", ReconcileMinutes)),
		FlexibleTimeWindow: &scheduler.ScheduleFlexibleTimeWindowArgs{Mode: pulumi.String("OFF")},
		State:              pulumi.String("ENABLED"),
		Target: &scheduler.ScheduleTargetArgs{
			Arn:     machine.Arn,
			RoleArn: schedulerRole.Arn,
			Input:   pulumi.String("{}"),
			// A start that cannot happen before the next one is due is given up: the next run does
			// the same work, and the run's own failures are its history's. What is given up goes to
			// the dead-letter queue, whose alarm tells that the reconcile is not running.
			RetryPolicy: &scheduler.ScheduleTargetRetryPolicyArgs{
				MaximumRetryAttempts:     pulumi.Int(reconcileStartRetries),
				MaximumEventAgeInSeconds: pulumi.Int(ReconcileMinutes * 60),
			},
			DeadLetterConfig: &scheduler.ScheduleTargetDeadLetterConfigArgs{Arn: dlq.Arn},
		},
		// The first run may start right away: the scheduler's policy and the reconcile's (which the
		// state machine waits for) must exist by then.
	}, parent, pulumi.DependsOn([]pulumi.Resource{schedulerPolicy, policy})); err != nil {
		return nil, nil, fmt.Errorf("reconcile schedule: %w", err)
	}
	return machine, dlq, nil
}

// RedeployDefinition forces a new deployment of each service in turn, retrying throttling and
// transient errors with backoff.
func RedeployDefinition(partition, clusterArn string, services []string) (string, error) {
	states := map[string]aslState{}
	var first string
	for i, svc := range services {
		id := "Redeploy " + svc
		if i == 0 {
			first = id
		}
		st := aslState{
			Type:     "Task",
			Comment:  "New tasks read the rotated secret; the rollout replaces the old ones",
			Resource: fmt.Sprintf("arn:%s:states:::aws-sdk:ecs:updateService", partition),
			Parameters: map[string]any{
				"Cluster": clusterArn, "Service": svc, "ForceNewDeployment": true,
			},
			Retry: []aslRetrier{{ErrorEquals: []string{"States.ALL"}, IntervalSeconds: 5, MaxAttempts: 5, BackoffRate: 2}},
		}
		if i+1 < len(services) {
			st.Next = "Redeploy " + services[i+1]
		} else {
			st.End = true
		}
		states[id] = st
	}
	b, err := json.Marshal(map[string]any{
		"Comment": "Redeploy the services that read a rotated secret",
		"StartAt": first,
		"States":  states,
	})
	return string(b), err
}

// The reconcile runs every ReconcileMinutes; a run has ReconcileTimeoutSeconds, less than the
// period, so two runs never overlap.
const (
	ReconcileMinutes        = 15
	ReconcileTimeoutSeconds = 600
	reconcileStartRetries   = 3
)

// The reconcile's fixed states and its error. Each service has "Read <service>", "Check <service>",
// "Compare <service> as timestamps", "Compare <service> as numbers" and "Redeploy <service>".
const (
	ReconcileReadSecretState    = "Read when the secret last changed"
	ReconcileDoneState          = "Every service is current"
	ReconcileUnreadableState    = "Dates unreadable"
	ErrReconcileDatesUnreadable = "RotationReconcile.DatesUnreadable"
)

// reconcileTask is a Task state whose ResultPath is always written: "ResultPath": null keeps the
// state's input and discards the result, which aslState's omitempty cannot say.
type reconcileTask struct {
	Type           string         `json:"Type"`
	Comment        string         `json:"Comment,omitempty"`
	Resource       string         `json:"Resource"`
	Parameters     map[string]any `json:"Parameters"`
	ResultSelector map[string]any `json:"ResultSelector,omitempty"`
	ResultPath     *string        `json:"ResultPath"`
	Retry          []aslRetrier   `json:"Retry"`
	Next           string         `json:"Next"`
}

// reconcileChoice is a Choice state with the JSONPath Choice Rules the reconcile uses.
type reconcileChoice struct {
	Type    string           `json:"Type"`
	Comment string           `json:"Comment,omitempty"`
	Choices []map[string]any `json:"Choices"`
	Default string           `json:"Default"`
}

// The paths the reconcile's Choice compares: when the secret last changed, and when the service's
// PRIMARY deployment (the one ECS is rolling out or has finished) was created.
const (
	secretChangedPath  = "$.secret.LastChangedDate"
	primaryCreatedPath = "$.service.PrimaryCreatedAt[0]"
)

// ReconcileDefinition redeploys exactly the services whose tasks may hold a password older than the
// secret: it reads when the secret last changed (Secrets Manager DescribeSecret), then for each
// service in turn when its PRIMARY deployment was created (ECS DescribeServices), and forces a new
// deployment (ECS UpdateService) of a service whose deployment is older than the change.
//
// LastChangedDate, not LastRotatedDate: DescribeSecret documents LastRotatedDate as null when "the
// secret isn't configured for rotation or rotation has been disabled", and says nothing of a new
// value put without a rotation; LastChangedDate is "the last date and time that this secret was
// modified in any way", which a rotation does when it adds the new version and when it makes that
// version AWSCURRENT. A change that is not a new value (a new description) costs one needless
// rollout, once.
//
// Every task of a deployment starts after the deployment is created, and "sensitive data is
// injected into your container when the container is initially started" ("Pass Secrets Manager
// secrets through Amazon ECS environment variables", ECS guide), so a deployment created after the
// change runs only tasks that read the current password. Hence the run does nothing once a
// deployment newer than the change is PRIMARY, whoever created it: its own UpdateService, the
// event-driven redeploy, a rollback or a `pulumi up`. The event path and the reconcile therefore do
// not fight: after either one's forced deployment, the service's PRIMARY deployment is newer than
// the change and every later run skips it. Both redeploy a service only when they read it in the
// same few seconds, before either has updated it; then ECS replaces the first new deployment with
// the second, one extra rollout, after which both stop.
//
// AWS does not document the form the SDK integration gives Timestamp members: RFC 3339 strings
// with Z, as others saw from it (functionless#489), which TimestampLessThanPath compares, or epoch
// seconds, as ECS and Secrets Manager send them on the wire (boto3#2845), which NumericLessThanPath
// compares. The Choices take either, when both dates have it, and fail the run as
// ErrReconcileDatesUnreadable on anything else: a silent "nothing to do" would leave the bound
// unenforced without anyone knowing. Two numbers are compared only when both are epoch seconds
// (between EpochSecondsMin and EpochSecondsMax): a deployment's date in milliseconds is a thousand
// times larger than any date in seconds, so every service would look current.
func ReconcileDefinition(partition, secretArn, clusterArn string, services []string) (string, error) {
	if len(services) == 0 {
		return "", fmt.Errorf("reconcile: no service")
	}
	retry := []aslRetrier{{ErrorEquals: []string{"States.ALL"}, IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2}}
	sdk := func(action string) string { return fmt.Sprintf("arn:%s:states:::aws-sdk:%s", partition, action) }
	path := func(p string) *string { return &p }
	read := func(svc string) string { return "Read " + svc }

	states := map[string]any{
		ReconcileReadSecretState: reconcileTask{
			Type:           "Task",
			Resource:       sdk("secretsmanager:describeSecret"),
			Parameters:     map[string]any{"SecretId": secretArn},
			ResultSelector: map[string]any{"LastChangedDate.$": "$.LastChangedDate"},
			ResultPath:     path("$.secret"),
			Retry:          retry,
			Next:           read(services[0]),
		},
		ReconcileDoneState: aslState{Type: "Succeed"},
		ReconcileUnreadableState: aslState{
			Type:  "Fail",
			Error: ErrReconcileDatesUnreadable,
			Cause: "The secret's LastChangedDate or a service's PRIMARY deployment CreatedAt is missing, or they are not two timestamps or two numbers of epoch seconds",
		},
	}
	for i, svc := range services {
		next := ReconcileDoneState
		if i+1 < len(services) {
			next = read(services[i+1])
		}
		check, redeploy := "Check "+svc, "Redeploy "+svc
		asTimestamps, asNumbers := "Compare "+svc+" as timestamps", "Compare "+svc+" as numbers"
		states[read(svc)] = reconcileTask{
			Type:       "Task",
			Resource:   sdk("ecs:describeServices"),
			Parameters: map[string]any{"Cluster": clusterArn, "Services": []string{svc}},
			// Only the PRIMARY deployment's creation: a service's description carries up to 100
			// events, which need not travel through the run.
			ResultSelector: map[string]any{"PrimaryCreatedAt.$": "$.Services[0].Deployments[?(@.Status == 'PRIMARY')].CreatedAt"},
			ResultPath:     path("$.service"),
			Retry:          retry,
			Next:           check,
		}
		// Each comparison sees only two dates of its own type: how a comparison treats a value of
		// another type is left to the type tests before it.
		states[check] = reconcileChoice{
			Type:    "Choice",
			Comment: "Compare the dates in the form both have",
			Choices: []map[string]any{
				{"Variable": primaryCreatedPath, "IsPresent": false, "Next": ReconcileUnreadableState},
				{"And": bothAre("IsTimestamp"), "Next": asTimestamps},
				{"And": bothAre("IsNumeric"), "Next": asNumbers},
			},
			Default: ReconcileUnreadableState,
		}
		states[asTimestamps] = reconcileChoice{
			Type:    "Choice",
			Comment: "Redeploy when the PRIMARY deployment was created before the secret last changed",
			Choices: []map[string]any{{"Variable": primaryCreatedPath, "TimestampLessThanPath": secretChangedPath, "Next": redeploy}},
			Default: next,
		}
		states[asNumbers] = reconcileChoice{
			Type:    "Choice",
			Comment: "Redeploy when the PRIMARY deployment was created before the secret last changed, both dates in epoch seconds",
			Choices: []map[string]any{
				{"Or": notEpochSeconds(), "Next": ReconcileUnreadableState},
				{"Variable": primaryCreatedPath, "NumericLessThanPath": secretChangedPath, "Next": redeploy},
			},
			Default: next,
		}
		states[redeploy] = reconcileTask{
			Type:       "Task",
			Comment:    "New tasks read the current secret; the rollout replaces the old ones",
			Resource:   sdk("ecs:updateService"),
			Parameters: map[string]any{"Cluster": clusterArn, "Service": svc, "ForceNewDeployment": true},
			// The next Check still needs $.secret.
			ResultPath: nil,
			Retry:      retry,
			Next:       next,
		}
	}
	b, err := json.Marshal(map[string]any{
		"Comment":        "Redeploy the services whose deployment is older than the secret's last change",
		"StartAt":        ReconcileReadSecretState,
		"TimeoutSeconds": ReconcileTimeoutSeconds,
		"States":         states,
	})
	return string(b), err
}

// bothAre are the Choice Rules that the secret's change and the deployment's creation both pass a
// type test (IsTimestamp, IsNumeric).
func bothAre(test string) []map[string]any {
	return []map[string]any{
		{"Variable": secretChangedPath, test: true},
		{"Variable": primaryCreatedPath, test: true},
	}
}

// EpochSecondsMin and EpochSecondsMax bound a date the reconcile reads as epoch seconds: 2001-09-09
// and the year 5138. Any date of the stack's life in seconds lies between; in milliseconds (about
// 1.7e12 today) or microseconds it does not, nor does a date in seconds misread as milliseconds.
const (
	EpochSecondsMin = 1_000_000_000
	EpochSecondsMax = 100_000_000_000
)

// notEpochSeconds are the Choice Rules of which one holds when the secret's change or the
// deployment's creation, both numbers, is not a date in epoch seconds.
func notEpochSeconds() []map[string]any {
	var rules []map[string]any
	for _, p := range []string{secretChangedPath, primaryCreatedPath} {
		rules = append(rules,
			map[string]any{"Variable": p, "NumericLessThanEquals": EpochSecondsMin},
			map[string]any{"Variable": p, "NumericGreaterThanEquals": EpochSecondsMax})
	}
	return rules
}

// redeployPolicy lets the state machine update exactly these services and nothing else.
func redeployPolicy(clusterArn string, services []string) string {
	return PolicyDocument{Statement: []PolicyStatement{{
		Sid: "RedeployTheReaders", Effect: "Allow", Action: []string{"ecs:UpdateService"}, Resource: serviceArns(clusterArn, services),
	}}}.JSON()
}

// reconcilePolicy lets the reconcile read when the secret last changed, read these services'
// deployments and redeploy these services, and nothing else. DescribeServices and UpdateService
// both take the service resource ("Actions, resources, and condition keys for Amazon Elastic
// Container Service", Service Authorization Reference), DescribeSecret the secret.
func reconcilePolicy(secretArn, clusterArn string, services []string) string {
	arns := serviceArns(clusterArn, services)
	return PolicyDocument{Statement: []PolicyStatement{
		{Sid: "ReadWhenTheSecretChanged", Effect: "Allow", Action: []string{"secretsmanager:DescribeSecret"}, Resource: []string{secretArn}},
		{Sid: "ReadTheReadersDeployments", Effect: "Allow", Action: []string{"ecs:DescribeServices"}, Resource: arns},
		{Sid: "RedeployTheStaleReaders", Effect: "Allow", Action: []string{"ecs:UpdateService"}, Resource: arns},
	}}.JSON()
}
