package infra

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// Dynamic host ports: Docker picks a host port for each task in the ephemeral range, which covers
// both the older (32768-61000) and current (49153-65535) ranges of the ECS-optimized AMIs.
const (
	DynamicPortFrom = 32768
	DynamicPortTo   = 65535
)

// ECS-optimized Amazon Linux 2023 AMIs, published by AWS as public SSM parameters.
const (
	amiParameterX86   = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
	amiParameterArm64 = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"
)

// EcsCluster is the ECS cluster and the EC2 capacity it runs on: instances in private subnets that
// accept traffic only from the load balancer, scaled by an ECS capacity provider.
type EcsCluster struct {
	pulumi.ResourceState

	ClusterName          pulumi.StringOutput `pulumi:"clusterName"`
	ClusterArn           pulumi.StringOutput `pulumi:"clusterArn"`
	CapacityProviderName pulumi.StringOutput `pulumi:"capacityProviderName"`
	// SpotCapacityProviderName is set only when capacity.spot is enabled.
	SpotCapacityProviderName pulumi.StringOutput `pulumi:"spotCapacityProviderName"`
	InstanceSecurityGroupID  pulumi.IDOutput     `pulumi:"instanceSecurityGroupId"`
	AutoScalingGroupName     pulumi.StringOutput `pulumi:"autoScalingGroupName"`
}

// EcsClusterArgs: ids from Network and LoadBalancer, plain values from config.
type EcsClusterArgs struct {
	VpcID                       pulumi.StringInput
	PrivateSubnetIDs            pulumi.StringArrayInput
	LoadBalancerSecurityGroupID pulumi.StringInput
	// EndpointSecurityGroupID guards the VPC's interface endpoints.
	//
	// Deprecated: the Network admits its whole VPC to its endpoints (their private DNS serves all of
	// it, review A2), the instances included; the cluster adds no rule of its own. Ignored.
	EndpointSecurityGroupID pulumi.StringInput
	// Egress is what the instances need before they start: the VPC endpoints, the NAT instances.
	Egress    []pulumi.Resource
	Config    config.ClusterConfig
	Partition string
	// Tags go on the Auto Scaling group and, through it and the launch template, on instances and
	// volumes, which the provider's default tags do not reach.
	Tags map[string]string
}

// NewEcsCluster builds the cluster, the instances' security group and rules, their role, launch
// template and Auto Scaling group, and the capacity provider that scales the group for ECS.
func NewEcsCluster(ctx *pulumi.Context, name string, args *EcsClusterArgs, opts ...pulumi.ResourceOption) (*EcsCluster, error) {
	if args == nil {
		return nil, fmt.Errorf("ecs cluster %s: args are required", name)
	}
	capacityName := name + "-capacity"
	for _, reserved := range []string{"aws", "ecs", "fargate"} {
		// ECS refuses capacity provider names with these prefixes; the name derives from the component's.
		if strings.HasPrefix(strings.ToLower(capacityName), reserved) {
			return nil, fmt.Errorf("ecs cluster %s: the name must not start with %q (ECS reserves it for capacity providers)", name, reserved)
		}
	}
	c := &EcsCluster{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "EcsCluster"), name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	cfg := args.Config
	// Instances and volumes also get a Name, so the EC2 console says what they are.
	tags := map[string]string{"Name": fmt.Sprintf("%s-%s-%s", ctx.Project(), ctx.Stack(), name)}
	for k, v := range args.Tags {
		tags[k] = v
	}

	cluster, err := ecs.NewCluster(ctx, name, &ecs.ClusterArgs{
		Settings: ecs.ClusterSettingArray{&ecs.ClusterSettingArgs{
			Name:  pulumi.String("containerInsights"),
			Value: pulumi.String("enabled"),
		}},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: cluster: %w", name, err)
	}

	sg, err := c.securityGroup(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}

	role, err := newServiceRole(ctx, name+"-instance-role", ec2Instances, pulumi.String("ECS container instances: register with the cluster, pull images, Session Manager"), parent)
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: instance role: %w", name, err)
	}
	// Instances start only once their role may register with the cluster and pull images: the
	// Auto Scaling groups wait for these attachments.
	var instancePolicies []pulumi.Resource
	for _, p := range []struct{ suffix, policy string }{
		{"ecs", "service-role/AmazonEC2ContainerServiceforEC2Role"},
		// Shell access through Session Manager, so the instances need no SSH port and no key pair.
		{"ssm", "AmazonSSMManagedInstanceCore"},
	} {
		attachment, err := iam.NewRolePolicyAttachment(ctx, name+"-instance-"+p.suffix, &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(managedPolicyArn(args.Partition, p.policy)),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("ecs cluster %s: instance policy %s: %w", name, p.policy, err)
		}
		instancePolicies = append(instancePolicies, attachment)
	}
	// Instances start once their role may register and pull, and their way out (NAT instances,
	// endpoints and the endpoints' rule admitting them) exists: the agent gives up otherwise.
	afterPolicies := pulumi.DependsOn(append(instancePolicies, args.Egress...))
	profile, err := iam.NewInstanceProfile(ctx, name+"-instance-profile", &iam.InstanceProfileArgs{
		Role: role.Name,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: instance profile: %w", name, err)
	}

	amiParameter := amiParameterX86
	if cfg.Shape.Arm64 {
		amiParameter = amiParameterArm64
	}
	// Reading the AMI id at deploy time (not resolve:ssm at launch) makes a new AMI a new launch
	// template version, which the instance refresh then rolls out.
	ami, err := ssm.LookupParameter(ctx, &ssm.LookupParameterArgs{Name: amiParameter}, pulumi.Parent(c))
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: ECS-optimized AMI from %s: %w", name, amiParameter, err)
	}

	lt, err := ec2.NewLaunchTemplate(ctx, name+"-lt", &ec2.LaunchTemplateArgs{
		Description:  pulumi.String("ECS container instances"),
		ImageId:      pulumi.String(ami.Value),
		InstanceType: pulumi.String(cfg.InstanceType),
		IamInstanceProfile: &ec2.LaunchTemplateIamInstanceProfileArgs{
			Arn: profile.Arn,
		},
		UserData: cluster.Name.ApplyT(func(name string) string {
			return userData(name, cfg.Capacity.WarmPool.Enabled)
		}).(pulumi.StringOutput),
		MetadataOptions:     imdsV2Only(),
		BlockDeviceMappings: encryptedRootVolume(cfg.RootVolumeSize),
		NetworkInterfaces: ec2.LaunchTemplateNetworkInterfaceArray{&ec2.LaunchTemplateNetworkInterfaceArgs{
			DeviceIndex:              pulumi.Int(0),
			AssociatePublicIpAddress: pulumi.String("false"),
			DeleteOnTermination:      pulumi.String("true"),
			SecurityGroups:           pulumi.StringArray{sg.ID()},
		}},
		Monitoring: &ec2.LaunchTemplateMonitoringArgs{Enabled: pulumi.Bool(true)},
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			&ec2.LaunchTemplateTagSpecificationArgs{
				ResourceType: pulumi.String("volume"),
				Tags:         pulumi.ToStringMap(tags),
			},
			&ec2.LaunchTemplateTagSpecificationArgs{
				ResourceType: pulumi.String("network-interface"),
				Tags:         pulumi.ToStringMap(tags),
			},
		},
		UpdateDefaultVersion: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: launch template: %w", name, err)
	}

	asgArgs := &autoscaling.GroupArgs{
		VpcZoneIdentifiers: args.PrivateSubnetIDs,
		MinSize:            pulumi.Int(cfg.MinInstances),
		MaxSize:            pulumi.Int(cfg.MaxInstances),
		DesiredCapacity:    pulumi.Int(cfg.DesiredInstances),
		LaunchTemplate: &autoscaling.GroupLaunchTemplateArgs{
			Id: lt.ID(),
			// The concrete version, not $Latest: a new version is what starts an instance refresh.
			Version: lt.LatestVersion.ApplyT(strconv.Itoa).(pulumi.StringOutput),
		},
		HealthCheckType:        pulumi.String("EC2"),
		HealthCheckGracePeriod: pulumi.Int(300),
		InstanceRefresh: &autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: &autoscaling.GroupInstanceRefreshPreferencesArgs{
				// Launch before terminating: capacity never drops during a refresh, and ECS managed
				// draining moves tasks off each old instance before it goes.
				MinHealthyPercentage: pulumi.Int(100),
				MaxHealthyPercentage: pulumi.Int(200),
				InstanceWarmup:       pulumi.String("300"),
				SkipMatching:         pulumi.Bool(true),
			},
		},
		// Managed termination protection stays off (see the capacity provider), so instances carry no
		// scale-in protection and `pulumi destroy` can delete the group with its instances.
		ProtectFromScaleIn: pulumi.Bool(false),
		ForceDelete:        pulumi.Bool(true),
		MetricsGranularity: pulumi.String("1Minute"),
		EnabledMetrics: pulumi.ToStringArray([]string{
			"GroupMinSize", "GroupMaxSize", "GroupDesiredCapacity", "GroupInServiceInstances",
			"GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances",
		}),
		Tags: asgTags(tags),
	}
	if cfg.Capacity.WarmPool.Enabled {
		asgArgs.WarmPool = warmPool(cfg.Capacity.WarmPool)
	}
	asg, err := autoscaling.NewGroup(ctx, name+"-asg", asgArgs, parent, afterPolicies,
		// ECS managed scaling owns the desired capacity once the group exists.
		pulumi.IgnoreChanges([]string{"desiredCapacity"}))
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: auto scaling group: %w", name, err)
	}

	cp, err := capacityProvider(ctx, capacityName, asg, cfg.Capacity, parent)
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: capacity provider: %w", name, err)
	}
	providers := pulumi.StringArray{cp.Name}
	strategies := ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArray{
		&ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs{
			CapacityProvider: cp.Name,
			Weight:           pulumi.Int(1),
			Base:             pulumi.Int(0),
		},
	}
	var spotCP *ecs.CapacityProvider
	if spot := cfg.Capacity.Spot; spot.Enabled {
		spotCP, err = c.spotCapacity(ctx, name, args, lt, tags, parent, afterPolicies)
		if err != nil {
			return nil, err
		}
		providers = append(providers, spotCP.Name)
		strategies = ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArray{
			&ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs{
				CapacityProvider: cp.Name, Base: pulumi.Int(spot.OnDemandBase), Weight: pulumi.Int(spot.OnDemandWeight),
			},
			&ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs{
				CapacityProvider: spotCP.Name, Base: pulumi.Int(0), Weight: pulumi.Int(spot.SpotWeight),
			},
		}
	}

	attachment, err := ecs.NewClusterCapacityProviders(ctx, name+"-capacity-providers", &ecs.ClusterCapacityProvidersArgs{
		ClusterName:                       cluster.Name,
		CapacityProviders:                 providers,
		DefaultCapacityProviderStrategies: strategies,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: capacity provider association: %w", name, err)
	}

	// Services read the cluster and capacity provider names from the association, so they are
	// created after it and destroyed before it, without an explicit DependsOn.
	c.ClusterName = attachment.ClusterName
	c.ClusterArn = afterAssociation(attachment, cluster.Arn)
	// Each capacity provider's name comes from its own resource, never by position from the
	// association: the provider keeps capacityProviders as a set and may return it in another order
	// (pulumi/pulumi-terraform-bridge#2478), which would put the on-demand base on Spot. The names
	// still resolve only once the association exists, so services using them wait for it.
	c.CapacityProviderName = afterAssociation(attachment, cp.Name)
	if spotCP != nil {
		c.SpotCapacityProviderName = afterAssociation(attachment, spotCP.Name)
	}
	c.InstanceSecurityGroupID = sg.ID()
	c.AutoScalingGroupName = asg.Name
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"clusterName":              c.ClusterName,
		"clusterArn":               c.ClusterArn,
		"capacityProviderName":     c.CapacityProviderName,
		"spotCapacityProviderName": c.SpotCapacityProviderName,
		"instanceSecurityGroupId":  c.InstanceSecurityGroupID,
		"autoScalingGroupName":     c.AutoScalingGroupName,
	})
}

// afterAssociation is value (the cluster's ARN, a capacity provider's own name), resolved only once
// the cluster association exists: ECS refuses a service or task whose capacity provider the cluster
// does not have yet.
func afterAssociation(association *ecs.ClusterCapacityProviders, value pulumi.StringOutput) pulumi.StringOutput {
	return pulumi.All(association.ClusterName, value).ApplyT(func(v []any) string {
		return v[1].(string)
	}).(pulumi.StringOutput)
}

// capacityProvider lets ECS scale an Auto Scaling group to fit the tasks it needs to place.
func capacityProvider(ctx *pulumi.Context, name string, asg *autoscaling.Group, cfg config.CapacityConfig, parent pulumi.ResourceOption) (*ecs.CapacityProvider, error) {
	return ecs.NewCapacityProvider(ctx, name, &ecs.CapacityProviderArgs{
		AutoScalingGroupProvider: &ecs.CapacityProviderAutoScalingGroupProviderArgs{
			AutoScalingGroupArn: asg.Arn,
			// Managed draining (not termination protection) keeps scale-in safe for tasks without
			// leaving protected instances behind that make `pulumi destroy` hang.
			ManagedDraining:              pulumi.String("ENABLED"),
			ManagedTerminationProtection: pulumi.String("DISABLED"),
			ManagedScaling: &ecs.CapacityProviderAutoScalingGroupProviderManagedScalingArgs{
				Status:                 pulumi.String("ENABLED"),
				TargetCapacity:         pulumi.Int(cfg.TargetCapacity),
				MinimumScalingStepSize: pulumi.Int(cfg.MinScalingStep),
				MaximumScalingStepSize: pulumi.Int(cfg.MaxScalingStep),
				InstanceWarmupPeriod:   pulumi.Int(cfg.InstanceWarmup),
			},
		},
	}, parent)
}

// spotCapacity is a second group of Spot instances over several types from the same launch
// template, with its own capacity provider; ECS drains an instance on its interruption notice.
func (c *EcsCluster) spotCapacity(ctx *pulumi.Context, name string, args *EcsClusterArgs, lt *ec2.LaunchTemplate,
	tags map[string]string, parent, afterPolicies pulumi.ResourceOption) (*ecs.CapacityProvider, error) {
	spot := args.Config.Capacity.Spot
	overrides := autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArray{}
	for _, it := range spot.InstanceTypes {
		overrides = append(overrides, &autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs{
			InstanceType: pulumi.String(it),
		})
	}
	asg, err := autoscaling.NewGroup(ctx, name+"-spot-asg", &autoscaling.GroupArgs{
		VpcZoneIdentifiers: args.PrivateSubnetIDs,
		MinSize:            pulumi.Int(0),
		MaxSize:            pulumi.Int(spot.MaxInstances),
		DesiredCapacity:    pulumi.Int(0),
		MixedInstancesPolicy: &autoscaling.GroupMixedInstancesPolicyArgs{
			InstancesDistribution: &autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs{
				OnDemandBaseCapacity:                pulumi.Int(0),
				OnDemandPercentageAboveBaseCapacity: pulumi.Int(0),
				SpotAllocationStrategy:              pulumi.String("price-capacity-optimized"),
			},
			LaunchTemplate: &autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs{
				LaunchTemplateSpecification: &autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs{
					LaunchTemplateId: lt.ID(),
					Version:          lt.LatestVersion.ApplyT(strconv.Itoa).(pulumi.StringOutput),
				},
				Overrides: overrides,
			},
		},
		// Replace an instance at elevated interruption risk before AWS reclaims it.
		CapacityRebalance:  pulumi.Bool(true),
		HealthCheckType:    pulumi.String("EC2"),
		ProtectFromScaleIn: pulumi.Bool(false),
		ForceDelete:        pulumi.Bool(true),
		InstanceRefresh: &autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: &autoscaling.GroupInstanceRefreshPreferencesArgs{
				MinHealthyPercentage: pulumi.Int(100),
				MaxHealthyPercentage: pulumi.Int(200),
				SkipMatching:         pulumi.Bool(true),
			},
		},
		Tags: asgTags(tags),
	}, parent, afterPolicies, pulumi.IgnoreChanges([]string{"desiredCapacity"}))
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: spot auto scaling group: %w", name, err)
	}
	cp, err := capacityProvider(ctx, name+"-spot-capacity", asg, args.Config.Capacity, parent)
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: spot capacity provider: %w", name, err)
	}
	return cp, nil
}

// warmPool keeps stopped instances that were already launched and initialised, so a scale-out only
// has to start them. No instance reuse policy: ECS's guide "Configuring pre-initialized instances for
// your Amazon ECS Auto Scaling group" says a warm pool for ECS cannot set ReuseOnScaleIn; instances
// that scale in are terminated, and the pool refills with new ones.
func warmPool(cfg config.WarmPoolConfig) *autoscaling.GroupWarmPoolArgs {
	pool := &autoscaling.GroupWarmPoolArgs{
		PoolState: pulumi.String("Stopped"),
		MinSize:   pulumi.Int(cfg.MinSize),
	}
	if cfg.MaxPreparedCapacity > 0 {
		pool.MaxGroupPreparedCapacity = pulumi.Int(cfg.MaxPreparedCapacity)
	}
	return pool
}

// securityGroup creates the instances' group and both rules between it and the load balancer's
// group: here is the one place both ids are known. The interface endpoints admit the instances
// through the Network's rule for the whole VPC, which the instances wait for as part of its Egress.
func (c *EcsCluster) securityGroup(ctx *pulumi.Context, name string, args *EcsClusterArgs, parent pulumi.ResourceOption) (*ec2.SecurityGroup, error) {
	sg, err := ec2.NewSecurityGroup(ctx, name+"-instances-sg", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcID,
		Description: pulumi.String("ECS container instances: task ports from the load balancer only"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("ecs cluster %s: instance security group: %w", name, err)
	}
	if _, err := vpc.NewSecurityGroupIngressRule(ctx, name+"-instances-from-alb", &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId:           sg.ID(),
		Description:               pulumi.String("Task host ports from the load balancer"),
		ReferencedSecurityGroupId: args.LoadBalancerSecurityGroupID,
		IpProtocol:                pulumi.String("tcp"),
		FromPort:                  pulumi.Int(DynamicPortFrom),
		ToPort:                    pulumi.Int(DynamicPortTo),
	}, parent); err != nil {
		return nil, fmt.Errorf("ecs cluster %s: ingress from load balancer: %w", name, err)
	}
	if _, err := vpc.NewSecurityGroupEgressRule(ctx, name+"-alb-to-instances", &vpc.SecurityGroupEgressRuleArgs{
		SecurityGroupId:           args.LoadBalancerSecurityGroupID,
		Description:               pulumi.String("Load balancer to task host ports on the instances"),
		ReferencedSecurityGroupId: sg.ID(),
		IpProtocol:                pulumi.String("tcp"),
		FromPort:                  pulumi.Int(DynamicPortFrom),
		ToPort:                    pulumi.Int(DynamicPortTo),
	}, parent); err != nil {
		return nil, fmt.Errorf("ecs cluster %s: egress from load balancer: %w", name, err)
	}
	// Instances reach ECR, ECS, CloudWatch and SSM through NAT or the VPC's endpoints.
	if _, err := vpc.NewSecurityGroupEgressRule(ctx, name+"-instances-egress", &vpc.SecurityGroupEgressRuleArgs{
		SecurityGroupId: sg.ID(),
		Description:     pulumi.String("Outbound through NAT or endpoints: image pulls and AWS APIs"),
		CidrIpv4:        pulumi.String("0.0.0.0/0"),
		IpProtocol:      pulumi.String("-1"),
	}, parent); err != nil {
		return nil, fmt.Errorf("ecs cluster %s: instance egress: %w", name, err)
	}
	return sg, nil
}

// imdsV2Only requires IMDSv2 session tokens (Security Hub EC2.8) with one hop: the host reaches IMDS,
// bridge-mode containers (one hop further) cannot, so tasks only ever get their own task role, never
// the instance role (AutoScaling.4).
func imdsV2Only() *ec2.LaunchTemplateMetadataOptionsArgs {
	return &ec2.LaunchTemplateMetadataOptionsArgs{
		HttpEndpoint:            pulumi.String("enabled"),
		HttpTokens:              pulumi.String("required"),
		HttpPutResponseHopLimit: pulumi.Int(1),
	}
}

// encryptedRootVolume is an encrypted gp3 root volume of sizeGiB that goes with its instance (EC2.3).
func encryptedRootVolume(sizeGiB int) ec2.LaunchTemplateBlockDeviceMappingArray {
	return ec2.LaunchTemplateBlockDeviceMappingArray{&ec2.LaunchTemplateBlockDeviceMappingArgs{
		DeviceName: pulumi.String("/dev/xvda"),
		Ebs: &ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
			VolumeSize:          pulumi.Int(sizeGiB),
			VolumeType:          pulumi.String("gp3"),
			Encrypted:           pulumi.String("true"),
			DeleteOnTermination: pulumi.String("true"),
		},
	}}
}

// userData joins the instance to the cluster and keeps memory back for the OS and the agent. With a
// warm pool, the agent must not register an instance while it waits, stopped, in the pool.
func userData(clusterName string, warmPool bool) string {
	lines := []string{
		"#!/bin/bash",
		"cat <<'EOF' >> /etc/ecs/ecs.config",
		"ECS_CLUSTER=" + clusterName,
		fmt.Sprintf("ECS_RESERVED_MEMORY=%d", config.ReservedMemoryMiB),
		"ECS_ENABLE_TASK_IAM_ROLE=true",
		"ECS_ENABLE_CONTAINER_METADATA=true",
		"ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
	}
	if warmPool {
		lines = append(lines, "ECS_WARM_POOLS_CHECK=true")
	}
	script := strings.Join(append(lines, "EOF", ""), "\n")
	return base64.StdEncoding.EncodeToString([]byte(script))
}

// asgTags tags the group and, at launch, its instances.
func asgTags(tags map[string]string) autoscaling.GroupTagArray {
	out := autoscaling.GroupTagArray{}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, &autoscaling.GroupTagArgs{
			Key: pulumi.String(k), Value: pulumi.String(tags[k]), PropagateAtLaunch: pulumi.Bool(true),
		})
	}
	// ECS adds this tag when the capacity provider is created; declaring it avoids a perpetual diff.
	return append(out, &autoscaling.GroupTagArgs{
		Key: pulumi.String("AmazonECSManaged"), Value: pulumi.String("true"), PropagateAtLaunch: pulumi.Bool(true),
	})
}
