package infra

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
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
	// EndpointSecurityGroupID guards the interface endpoints the stack creates (when it creates any);
	// it admits the whole VPC on 443, since their private DNS answers for the whole VPC.
	EndpointSecurityGroupID pulumi.StringOutput `pulumi:"endpointSecurityGroupId"`
	HasInterfaceEndpoints   bool
	// Egress is what the instances need before they start: the endpoints, the rules that let the VPC
	// reach them, and the NAT instances.
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

	var endpointSubnets pulumi.StringArrayInput
	var plan endpointPlan
	if args.Existing != nil {
		ex := args.Existing
		n.VpcID = pulumi.String(ex.VpcID).ToStringOutput()
		n.PublicSubnetIDs = pulumi.ToStringArray(ex.PublicSubnetIDs).ToStringArrayOutput()
		n.PrivateSubnetIDs = pulumi.ToStringArray(ex.PrivateSubnetIDs).ToStringArrayOutput()
		endpointSubnets = pulumi.ToStringArray(ex.OnePrivateSubnetPerAZ)
		// What the deploy-time check found the VPC lacks, and nothing it has (review A1).
		plan = endpointPlan{interfaces: ex.Interface, vpcCidrs: ex.CidrBlocks}
		if ex.S3 != nil {
			plan.s3Name, plan.s3RouteTables = ex.S3.ServiceName, pulumi.ToStringArray(ex.S3.RouteTableIDs)
		}
		if cfg.Settings.FlowLogs {
			if err := flowLogs(ctx, name, n.VpcID, args.FlowLogRetentionDays, parent); err != nil {
				return nil, fmt.Errorf("network %s: %w", name, err)
			}
		}
	} else {
		// A VPC of the stack's own has no endpoints yet: it gets every one configured. The services
		// are looked up first, so one the region lacks fails before the VPC is created.
		var err error
		if plan, err = createdVpcEndpoints(ctx, cfg, args.Region, args.Partition, parent); err != nil {
			return nil, fmt.Errorf("network %s: %w", name, err)
		}
		vpc, err := n.createVpc(ctx, name, args, parent)
		if err != nil {
			return nil, err
		}
		n.VpcID = vpc.VpcId
		n.PublicSubnetIDs = vpc.PublicSubnetIds
		n.PrivateSubnetIDs = vpc.PrivateSubnetIds
		endpointSubnets = vpc.PrivateSubnetIds
		plan.vpcCidrs = []string{cfg.CIDR}
		// One route table per private subnet (awsx's layout), found by its subnet once awsx has
		// associated them; the subnets come in AZ order, a list awsx builds, not a set.
		var privateRouteTables pulumi.StringArray
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
		plan.s3RouteTables = privateRouteTables
	}

	endpoints, err := n.endpoints(ctx, name, plan, endpointSubnets, parent)
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

// endpointPlan is what the stack creates of the VPC endpoints: the S3 gateway endpoint on
// s3RouteTables (none without them), the interface endpoints, and the VPC's CIDRs that reach them.
type endpointPlan struct {
	s3Name        string
	s3RouteTables pulumi.StringArrayInput
	interfaces    []InterfaceEndpoint
	vpcCidrs      []string
}

// InterfaceEndpoint is an interface endpoint the stack creates: the service as configured (ecr.api)
// and the name the region gives its endpoint service (com.amazonaws.us-east-1.ecr.api).
type InterfaceEndpoint struct {
	Service, ServiceName string
}

// createdVpcEndpoints is every endpoint a VPC of the stack's own gets: the S3 gateway endpoint and
// each configured interface endpoint.
func createdVpcEndpoints(ctx *pulumi.Context, cfg config.NetworkConfig, region, partition string, opts ...pulumi.InvokeOption) (endpointPlan, error) {
	s3, err := endpointServiceName(ctx, "s3", "Gateway", region, partition, opts...)
	if err != nil {
		return endpointPlan{}, err
	}
	plan := endpointPlan{s3Name: s3}
	for _, service := range cfg.Settings.Endpoints {
		serviceName, err := endpointServiceName(ctx, service, "Interface", region, partition, opts...)
		if err != nil {
			return endpointPlan{}, err
		}
		plan.interfaces = append(plan.interfaces, InterfaceEndpoint{Service: service, ServiceName: serviceName})
	}
	return plan, nil
}

// endpoints creates the S3 gateway endpoint on the private route tables (free: image layers come
// from S3, so pulls stop paying for NAT), and the interface endpoints in one private subnet per AZ,
// behind one security group.
//
// That group admits the VPC's CIDRs on 443, not just the instances: an interface endpoint's private
// DNS makes the service's public name resolve to the endpoint for every workload in the VPC ("Enable
// private DNS for the endpoint to enable you to make requests to the service using its default DNS
// hostname", VPC User Guide, "Interface VPC endpoints"), so whatever the group leaves out - another
// team's workloads in an existing VPC, the NAT instances' Session Manager agent - loses the service
// (review A2). AWS's guide and the CDK's InterfaceVpcEndpoint (open: true by default) do the same.
func (n *Network) endpoints(ctx *pulumi.Context, name string, plan endpointPlan, subnets pulumi.StringArrayInput,
	parent pulumi.ResourceOrInvokeOption) ([]pulumi.Resource, error) {
	var out []pulumi.Resource
	if plan.s3RouteTables != nil {
		gateway, err := awsec2.NewVpcEndpoint(ctx, name+"-s3", &awsec2.VpcEndpointArgs{
			VpcId:           n.VpcID,
			ServiceName:     pulumi.String(plan.s3Name),
			VpcEndpointType: pulumi.String("Gateway"),
			RouteTableIds:   plan.s3RouteTables,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("s3 endpoint: %w", err)
		}
		out = append(out, gateway)
	}
	if len(plan.interfaces) == 0 {
		return out, nil
	}

	sg, err := awsec2.NewSecurityGroup(ctx, name+"-endpoints-sg", &awsec2.SecurityGroupArgs{
		VpcId:       n.VpcID,
		Description: pulumi.String("VPC interface endpoints: 443 from the VPC"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("endpoint security group: %w", err)
	}
	n.EndpointSecurityGroupID = sg.ID().ToStringOutput()
	n.HasInterfaceEndpoints = true
	for _, cidr := range plan.vpcCidrs {
		// Named by the CIDR, so a block the VPC gains or loses adds or removes only its own rule.
		rule, err := vpc.NewSecurityGroupIngressRule(ctx, name+"-endpoints-from-"+cidrSlug(cidr), &vpc.SecurityGroupIngressRuleArgs{
			SecurityGroupId: sg.ID(),
			Description:     pulumi.String("HTTPS to the VPC endpoints from the VPC: their private DNS serves all of it"),
			CidrIpv4:        pulumi.String(cidr),
			IpProtocol:      pulumi.String("tcp"),
			FromPort:        pulumi.Int(443),
			ToPort:          pulumi.Int(443),
			// Says the source is the VPC's own block: the policy suite (APP.NET.1) exempts only those
			// from naming a security group, and an existing VPC has no resource in the stack to read
			// them from (review R8).
			Tags: pulumi.StringMap{VpcCidrTag: pulumi.String(cidr)},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("endpoints ingress from %s: %w", cidr, err)
		}
		out = append(out, rule)
	}
	for _, ep := range plan.interfaces {
		endpoint, err := awsec2.NewVpcEndpoint(ctx, name+"-"+strings.ReplaceAll(ep.Service, ".", "-"), &awsec2.VpcEndpointArgs{
			VpcId:             n.VpcID,
			ServiceName:       pulumi.String(ep.ServiceName),
			VpcEndpointType:   pulumi.String("Interface"),
			SubnetIds:         subnets,
			SecurityGroupIds:  pulumi.StringArray{sg.ID()},
			PrivateDnsEnabled: pulumi.Bool(true),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("%s endpoint: %w", ep.Service, err)
		}
		out = append(out, endpoint)
	}
	return out, nil
}

// VpcCidrTag marks the endpoints' ingress rules from the VPC's own CIDR blocks, with the block: the
// policy suite's APP.NET.1 admits no other source into the endpoints' group without naming a group.
const VpcCidrTag = "vpc-cidr"

// cidrSlug is a CIDR as a logical-name part: 10.0.0.0/16 -> 10-0-0-0-16.
func cidrSlug(cidr string) string {
	return strings.NewReplacer(".", "-", "/", "-", ":", "-").Replace(cidr)
}

// endpointServiceName asks the region for a service's endpoint service name, which also fails
// early where the service has no endpoint.
//
// Outside China the provider builds com.amazonaws.<region>.<service> from `service`
// (terraform-provider-aws vpc_endpoint_service_data_source.go: fmt.Sprintf("com.amazonaws.%s.%s",
// ...Region, v)), and that is every AWS service's name there. In China it is not: ECR and many
// others are cn.com.amazonaws.<region>.<service>, CloudWatch Logs and S3 are not ("In cn-north-1 and
// cn-northwest-1, the vpc endpoint prefix is both region and service related", aws-cdk#16139;
// "InvalidServiceName: The Vpc Endpoint Service 'com.amazonaws.cn-north-1.ecr.dkr' does not exist",
// terraform-provider-aws#17640). There the lookup offers both names as a service-name filter, which
// matches the one that exists (a filter, unlike ServiceNames, does not fail on the other), and AWS
// answers with the real name (review A7).
func endpointServiceName(ctx *pulumi.Context, service, kind, region, partition string, opts ...pulumi.InvokeOption) (string, error) {
	args := &awsec2.LookupVpcEndpointServiceArgs{Service: pulumi.StringRef(service), ServiceType: pulumi.StringRef(kind)}
	if partition == "aws-cn" {
		args = &awsec2.LookupVpcEndpointServiceArgs{
			ServiceType: pulumi.StringRef(kind),
			Filters: []awsec2.GetVpcEndpointServiceFilter{{Name: "service-name", Values: []string{
				"cn.com.amazonaws." + region + "." + service, "com.amazonaws." + region + "." + service,
			}}},
		}
	}
	svc, err := awsec2.LookupVpcEndpointService(ctx, args, opts...)
	if err != nil {
		return "", fmt.Errorf("%s endpoint service (%s) in %s: %w", service, kind, region, err)
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
