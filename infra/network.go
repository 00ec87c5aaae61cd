package infra

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-awsx/sdk/v2/go/awsx/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// Network is the VPC: public subnets for the load balancer, private subnets for the instances,
// spread over AZCount availability zones; their way out (NAT gateways, NAT instances, or none) and
// the VPC endpoints. Or an existing VPC, of which nothing is created or changed.
type Network struct {
	pulumi.ResourceState

	VpcID            pulumi.StringOutput      `pulumi:"vpcId"`
	PublicSubnetIDs  pulumi.StringArrayOutput `pulumi:"publicSubnetIds"`
	PrivateSubnetIDs pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`
	// EndpointSecurityGroupID guards the interface endpoints (when there are any): the instances'
	// group must be admitted on 443.
	EndpointSecurityGroupID pulumi.StringOutput `pulumi:"endpointSecurityGroupId"`
	HasInterfaceEndpoints   bool
	// Egress is what the instances need before they start: the endpoints and the NAT instances.
	Egress []pulumi.Resource
}

// NetworkArgs are plain config values, and for an existing VPC what the deploy found out about it.
type NetworkArgs struct {
	Config config.NetworkConfig
	// Existing is the checked existing VPC (CheckExistingNetwork); nil to create one.
	Existing *ExistingNetwork
	// FlowLogRetentionDays keeps the VPC flow logs as long as the app's logs.
	FlowLogRetentionDays int
	Region               string
	Partition            string
}

// NewNetwork builds the VPC with awsx's Auto subnet strategy, or adopts an existing one, then its
// egress and endpoints.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if args == nil {
		return nil, fmt.Errorf("network %s: args are required", name)
	}
	if args.Config.Existing() != (args.Existing != nil) {
		return nil, fmt.Errorf("network %s: an existing VPC must be checked first (CheckExistingNetwork)", name)
	}
	n := &Network{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "Network"), name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	cfg := args.Config

	var privateRouteTables pulumi.StringArray
	var endpointSubnets pulumi.StringArrayInput
	if args.Existing != nil {
		ex := args.Existing
		n.VpcID = pulumi.String(ex.VpcID).ToStringOutput()
		n.PublicSubnetIDs = pulumi.ToStringArray(ex.PublicSubnetIDs).ToStringArrayOutput()
		n.PrivateSubnetIDs = pulumi.ToStringArray(ex.PrivateSubnetIDs).ToStringArrayOutput()
		privateRouteTables = pulumi.ToStringArray(ex.PrivateRouteTableIDs)
		endpointSubnets = pulumi.ToStringArray(ex.OnePrivateSubnetPerAZ)
		if cfg.Settings.FlowLogs {
			if err := flowLogs(ctx, name, n.VpcID, args.FlowLogRetentionDays, parent); err != nil {
				return nil, fmt.Errorf("network %s: %w", name, err)
			}
		}
	} else {
		vpc, err := n.createVpc(ctx, name, args, parent)
		if err != nil {
			return nil, err
		}
		n.VpcID = vpc.VpcId
		n.PublicSubnetIDs = vpc.PublicSubnetIds
		n.PrivateSubnetIDs = vpc.PrivateSubnetIds
		endpointSubnets = vpc.PrivateSubnetIds
		// One route table per private subnet (awsx's layout), found by its subnet once awsx has
		// associated them; the subnets come in AZ order, a list awsx builds, not a set.
		for i := 0; i < cfg.AZCount; i++ {
			rt := awsec2.LookupRouteTableOutput(ctx, awsec2.LookupRouteTableOutputArgs{
				SubnetId: vpc.PrivateSubnetIds.Index(pulumi.Int(i)),
			}, parent)
			privateRouteTables = append(privateRouteTables, rt.RouteTableId())
		}
		if cfg.NatGateways == config.NatInstance {
			instances, err := newNatInstances(ctx, name, &natInstanceArgs{
				Config: cfg, VpcID: vpc.VpcId, PublicSubnetIDs: vpc.PublicSubnetIds, PrivateRouteTableIDs: privateRouteTables,
				Region: args.Region, Partition: args.Partition,
			}, parent)
			if err != nil {
				return nil, fmt.Errorf("network %s: %w", name, err)
			}
			n.Egress = append(n.Egress, instances...)
		}
	}

	endpoints, err := n.endpoints(ctx, name, cfg, privateRouteTables, endpointSubnets, parent)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	n.Egress = append(n.Egress, endpoints...)

	outputs := pulumi.Map{
		"vpcId":            n.VpcID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
	}
	if n.HasInterfaceEndpoints {
		outputs["endpointSecurityGroupId"] = n.EndpointSecurityGroupID
	}
	return n, ctx.RegisterResourceOutputs(n, outputs)
}

// awsxNatStrategy is awsx's NAT gateway strategy for a natGateways choice: NAT instances and None
// create no gateway.
func awsxNatStrategy(choice string) ec2.NatGatewayStrategy {
	switch choice {
	case config.NatSingle, config.NatOnePerAz:
		return ec2.NatGatewayStrategy(choice)
	}
	return ec2.NatGatewayStrategyNone
}

// createVpc is the awsx VPC, its default security group closed (Security Hub EC2.2) and its flow logs.
func (n *Network) createVpc(ctx *pulumi.Context, name string, args *NetworkArgs, parent pulumi.ResourceOrInvokeOption) (*ec2.Vpc, error) {
	strategy := awsxNatStrategy(args.Config.NatGateways)
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
	return vpc, nil
}

// endpoints creates the S3 gateway endpoint on the private route tables (free: image layers come
// from S3, so pulls stop paying for NAT), and the configured interface endpoints in one private
// subnet per AZ, behind one security group that the instances' group is admitted to on 443.
func (n *Network) endpoints(ctx *pulumi.Context, name string, cfg config.NetworkConfig, routeTables pulumi.StringArray,
	subnets pulumi.StringArrayInput, parent pulumi.ResourceOrInvokeOption) ([]pulumi.Resource, error) {
	var out []pulumi.Resource
	s3, err := endpointService(ctx, "s3", "Gateway", parent)
	if err != nil {
		return nil, err
	}
	gateway, err := awsec2.NewVpcEndpoint(ctx, name+"-s3", &awsec2.VpcEndpointArgs{
		VpcId:           n.VpcID,
		ServiceName:     pulumi.String(s3),
		VpcEndpointType: pulumi.String("Gateway"),
		RouteTableIds:   routeTables,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint: %w", err)
	}
	out = append(out, gateway)
	if len(cfg.Settings.Endpoints) == 0 {
		return out, nil
	}

	sg, err := awsec2.NewSecurityGroup(ctx, name+"-endpoints-sg", &awsec2.SecurityGroupArgs{
		VpcId:       n.VpcID,
		Description: pulumi.String("VPC interface endpoints: 443 from the ECS instances only"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("endpoint security group: %w", err)
	}
	n.EndpointSecurityGroupID = sg.ID().ToStringOutput()
	n.HasInterfaceEndpoints = true
	for _, service := range cfg.Settings.Endpoints {
		serviceName, err := endpointService(ctx, service, "Interface", parent)
		if err != nil {
			return nil, err
		}
		ep, err := awsec2.NewVpcEndpoint(ctx, name+"-"+strings.ReplaceAll(service, ".", "-"), &awsec2.VpcEndpointArgs{
			VpcId:             n.VpcID,
			ServiceName:       pulumi.String(serviceName),
			VpcEndpointType:   pulumi.String("Interface"),
			SubnetIds:         subnets,
			SecurityGroupIds:  pulumi.StringArray{sg.ID()},
			PrivateDnsEnabled: pulumi.Bool(true),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("%s endpoint: %w", service, err)
		}
		out = append(out, ep)
	}
	return out, nil
}

// endpointService asks the region for a service's endpoint name (com.amazonaws.<region>.<service>,
// cn.com.amazonaws... in China), which also fails early where the service has no endpoint.
func endpointService(ctx *pulumi.Context, service, kind string, parent pulumi.ResourceOrInvokeOption) (string, error) {
	svc, err := awsec2.LookupVpcEndpointService(ctx, &awsec2.LookupVpcEndpointServiceArgs{
		Service: pulumi.StringRef(service), ServiceType: pulumi.StringRef(kind),
	}, parent)
	if err != nil {
		return "", fmt.Errorf("%s endpoint service (%s): %w", service, kind, err)
	}
	return svc.ServiceName, nil
}

// flowLogs records every accepted and rejected connection in the VPC to CloudWatch Logs (Security
// Hub EC2.6), for incident response and for debugging security group rules.
func flowLogs(ctx *pulumi.Context, name string, vpcID pulumi.StringOutput, retentionDays int, parent pulumi.ResourceOrInvokeOption) error {
	group, err := cloudwatch.NewLogGroup(ctx, name+"-flow-logs", &cloudwatch.LogGroupArgs{
		RetentionInDays: pulumi.Int(retentionDays),
	}, parent)
	if err != nil {
		return fmt.Errorf("flow log group: %w", err)
	}
	role, err := newServiceRole(ctx, name+"-flow-logs-role", vpcFlowLogs, pulumi.String("VPC flow logs: write to the flow log group"), parent)
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
