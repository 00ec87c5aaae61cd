package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-awsx/sdk/v2/go/awsx/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// Network is the VPC: public subnets for the load balancer, private subnets (behind NAT) for the
// instances, spread over AZCount availability zones.
type Network struct {
	pulumi.ResourceState

	VpcID            pulumi.StringOutput      `pulumi:"vpcId"`
	PublicSubnetIDs  pulumi.StringArrayOutput `pulumi:"publicSubnetIds"`
	PrivateSubnetIDs pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`
}

// NetworkArgs are plain config values; the network depends on nothing else.
type NetworkArgs struct {
	Config config.NetworkConfig
	// FlowLogRetentionDays keeps the VPC flow logs as long as the app's logs.
	FlowLogRetentionDays int
}

// NewNetwork builds the VPC with awsx's Auto subnet strategy.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if args == nil {
		return nil, fmt.Errorf("network %s: args are required", name)
	}
	n := &Network{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "Network"), name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)

	strategy := ec2.NatGatewayStrategy(args.Config.NatGateways)
	subnets := ec2.SubnetAllocationStrategyAuto
	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:                 pulumi.StringRef(args.Config.CIDR),
		NumberOfAvailabilityZones: pulumi.IntRef(args.Config.AZCount),
		SubnetStrategy:            &subnets,
		SubnetSpecs: []ec2.SubnetSpecArgs{
			{Type: ec2.SubnetTypePublic},
			{Type: ec2.SubnetTypePrivate},
		},
		NatGateways:        &ec2.NatGatewayConfigurationArgs{Strategy: strategy},
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("network %s: vpc: %w", name, err)
	}

	// Adopt the VPC's default security group and strip its rules (Security Hub EC2.2): nothing
	// should use it, and an open default group is a trap for anything launched without a group.
	if _, err := awsec2.NewDefaultSecurityGroup(ctx, name+"-default-sg", &awsec2.DefaultSecurityGroupArgs{
		VpcId: vpc.VpcId,
	}, parent); err != nil {
		return nil, fmt.Errorf("network %s: default security group: %w", name, err)
	}

	if err := flowLogs(ctx, name, vpc.VpcId, args.FlowLogRetentionDays, parent); err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}

	n.VpcID = vpc.VpcId
	n.PublicSubnetIDs = vpc.PublicSubnetIds
	n.PrivateSubnetIDs = vpc.PrivateSubnetIds
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":            n.VpcID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
	})
}

// flowLogs records every accepted and rejected connection in the VPC to CloudWatch Logs (Security
// Hub EC2.6), for incident response and for debugging security group rules.
func flowLogs(ctx *pulumi.Context, name string, vpcID pulumi.StringOutput, retentionDays int, parent pulumi.ResourceOption) error {
	group, err := cloudwatch.NewLogGroup(ctx, name+"-flow-logs", &cloudwatch.LogGroupArgs{
		RetentionInDays: pulumi.Int(retentionDays),
	}, parent)
	if err != nil {
		return fmt.Errorf("flow log group: %w", err)
	}
	role, err := newServiceRole(ctx, name+"-flow-logs-role", "vpc-flow-logs.amazonaws.com", pulumi.String("VPC flow logs: write to the flow log group"), parent)
	if err != nil {
		return fmt.Errorf("flow log role: %w", err)
	}
	policy := group.Arn.ApplyT(func(arn string) string {
		return PolicyDocument{Statement: []PolicyStatement{{
			Sid:    "WriteFlowLogs",
			Effect: "Allow",
			Action: []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
			// The group's ARN and its streams, nothing else.
			Resource: []string{arn, arn + ":*"},
		}}}.JSON()
	}).(pulumi.StringOutput)
	if _, err := iam.NewRolePolicy(ctx, name+"-flow-logs-policy", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: policy,
	}, parent); err != nil {
		return fmt.Errorf("flow log policy: %w", err)
	}
	if _, err := awsec2.NewFlowLog(ctx, name+"-flow-log", &awsec2.FlowLogArgs{
		VpcId:                  vpcID,
		TrafficType:            pulumi.String("ALL"),
		LogDestinationType:     pulumi.String("cloud-watch-logs"),
		LogDestination:         group.Arn,
		IamRoleArn:             role.Arn,
		MaxAggregationInterval: pulumi.Int(60),
	}, parent); err != nil {
		return fmt.Errorf("flow log: %w", err)
	}
	return nil
}

// componentType is the type token of one of this project's components, e.g. "ecs-api:infra:Network".
func componentType(ctx *pulumi.Context, kind string) string {
	return ctx.Project() + ":infra:" + kind
}
