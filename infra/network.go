package infra

import (
	"fmt"

	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-awsx/sdk/v2/go/awsx/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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
	Config NetworkConfig
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

	n.VpcID = vpc.VpcId
	n.PublicSubnetIDs = vpc.PublicSubnetIds
	n.PrivateSubnetIDs = vpc.PrivateSubnetIds
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":            n.VpcID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
	})
}

// componentType is the type token of one of this project's components, e.g. "ecs-api:infra:Network".
func componentType(ctx *pulumi.Context, kind string) string {
	return ctx.Project() + ":infra:" + kind
}
