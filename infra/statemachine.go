package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sfn"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// vendedLogsPrefix starts the state machines' log group names: Step Functions recommends it, as it
// keeps CloudWatch Logs' resource policy small.
const vendedLogsPrefix = "/aws/vendedlogs/states/"

// aslRetrier, aslCatcher, aslChoice and aslState are the parts of an Amazon States Language
// definition this program writes, for the job runs and the rotation redeploy.
type aslRetrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds int      `json:"IntervalSeconds"`
	MaxAttempts     int      `json:"MaxAttempts"`
	BackoffRate     float64  `json:"BackoffRate"`
}

type aslCatcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	ResultPath  string   `json:"ResultPath"`
	Next        string   `json:"Next"`
}

type aslChoice struct {
	Variable           string `json:"Variable"`
	NumericGreaterThan int    `json:"NumericGreaterThan"`
	Next               string `json:"Next"`
}

type aslState struct {
	Type           string         `json:"Type"`
	Comment        string         `json:"Comment,omitempty"`
	Resource       string         `json:"Resource,omitempty"`
	Parameters     map[string]any `json:"Parameters,omitempty"`
	ResultSelector map[string]any `json:"ResultSelector,omitempty"`
	ResultPath     string         `json:"ResultPath,omitempty"`
	TimeoutSeconds int            `json:"TimeoutSeconds,omitempty"`
	Retry          []aslRetrier   `json:"Retry,omitempty"`
	Catch          []aslCatcher   `json:"Catch,omitempty"`
	Choices        []aslChoice    `json:"Choices,omitempty"`
	Default        string         `json:"Default,omitempty"`
	Error          string         `json:"Error,omitempty"`
	Cause          string         `json:"Cause,omitempty"`
	Next           string         `json:"Next,omitempty"`
	End            bool           `json:"End,omitempty"`
}

// logDeliveryPolicy lets Step Functions deliver a state machine's logs. CloudWatch Logs' delivery
// actions take no resource ARN ("Logging using CloudWatch Logs" in the Step Functions guide), and
// CreateStateMachine checks them, so this policy exists before the state machine.
func logDeliveryPolicy() string {
	return PolicyDocument{Statement: []PolicyStatement{{
		Sid: "DeliverRunLogs", Effect: "Allow",
		Action: []string{
			"logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
			"logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
		},
		Resource: []string{"*"},
	}}}.JSON()
}

// newLoggedStateMachine is a standard workflow that logs every run, with its data, to a log group of
// its own (StepFunctions.1): the log delivery policy on role, the log group /aws/vendedlogs/states/
// <family> kept retentionDays, and the state machine, created after the log delivery policy (which
// CreateStateMachine checks) and after the resources in after.
func newLoggedStateMachine(ctx *pulumi.Context, name, logsName, family string, retentionDays int, role *iam.Role,
	definition pulumi.StringInput, parent pulumi.ResourceOption, after ...pulumi.Resource) (*sfn.StateMachine, error) {
	logsPolicy, err := iam.NewRolePolicy(ctx, logsName, &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: pulumi.String(logDeliveryPolicy()),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("log delivery policy: %w", err)
	}
	logGroup, err := cloudwatch.NewLogGroup(ctx, logsName, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(vendedLogsPrefix + family),
		RetentionInDays: pulumi.Int(retentionDays),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("log group: %w", err)
	}
	machine, err := sfn.NewStateMachine(ctx, name, &sfn.StateMachineArgs{
		Type:       pulumi.String("STANDARD"),
		RoleArn:    role.Arn,
		Definition: definition,
		LoggingConfiguration: &sfn.StateMachineLoggingConfigurationArgs{
			Level:                pulumi.String("ALL"),
			IncludeExecutionData: pulumi.Bool(true),
			LogDestination:       pulumi.Sprintf("%s:*", logGroup.Arn),
		},
	}, parent, pulumi.DependsOn(append([]pulumi.Resource{logsPolicy}, after...)))
	if err != nil {
		return nil, fmt.Errorf("state machine: %w", err)
	}
	return machine, nil
}
