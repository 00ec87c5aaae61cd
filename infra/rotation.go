package infra

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RedeployOnRotation restarts every service whose tasks read a secret when Secrets Manager rotates
// it. ECS resolves a task's secrets once, when the task starts, so after RDS rotates the master
// password (every 7 days by default with manageMasterUserPassword) running tasks hold the old one
// and every new connection they open is refused. An EventBridge rule on the rotation starts a Step
// Functions state machine that forces a new deployment of each service (ECS UpdateService through
// the AWS SDK integration, no Lambda to maintain); the new tasks read the new password, and the
// usual rollout replaces the old ones.
type RedeployOnRotation struct {
	pulumi.ResourceState

	StateMachineArn pulumi.StringOutput `pulumi:"stateMachineArn"`
	RuleName        pulumi.StringOutput `pulumi:"ruleName"`
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

// NewRedeployOnRotation creates the state machine, its role, the rule and the rule's role.
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

	r.StateMachineArn = machine.Arn
	r.RuleName = rule.Name
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{
		"stateMachineArn": r.StateMachineArn,
		"ruleName":        r.RuleName,
	})
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

// redeployPolicy lets the state machine update exactly these services and nothing else.
func redeployPolicy(clusterArn string, services []string) string {
	prefix := strings.Replace(clusterArn, ":cluster/", ":service/", 1)
	var arns []string
	for _, s := range services {
		arns = append(arns, prefix+"/"+s)
	}
	return PolicyDocument{Statement: []PolicyStatement{{
		Sid: "RedeployTheReaders", Effect: "Allow", Action: []string{"ecs:UpdateService"}, Resource: arns,
	}}}.JSON()
}
