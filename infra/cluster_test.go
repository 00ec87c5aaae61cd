package infra_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

func buildCluster(t *testing.T, overrides map[string]string) *pulumitest.Mocks {
	t.Helper()
	return build(t, overrides, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewEcsCluster(ctx, "cluster", &infra.EcsClusterArgs{
			VpcID:                       pulumi.String("vpc-1"),
			PrivateSubnetIDs:            pulumi.ToStringArray([]string{"subnet-private-0", "subnet-private-1"}),
			LoadBalancerSecurityGroupID: pulumi.String("sg-alb"),
			Config:                      cfg.Cluster,
			Partition:                   cfg.Partition(),
			Tags:                        cfg.AllTags(),
		})
		return err
	})
}

func TestInstanceSecurityGroupOnlyAdmitsLoadBalancer(t *testing.T) {
	m := buildCluster(t, nil)
	sg := named(t, m, sgType, "cluster-instances-sg")
	if sg.Len("ingress") != 0 || sg.Len("egress") != 0 {
		t.Error("instance security group has inline rules; rules must be separate resources")
	}
	var onInstances []*pulumitest.Resource
	for _, r := range m.OfType(ingressRuleType) {
		if r.Str("securityGroupId") == "sg-cluster-instances-sg" {
			onInstances = append(onInstances, r)
		}
	}
	if len(onInstances) != 1 {
		t.Fatalf("instance group has %d ingress rules, want exactly one (from the load balancer)", len(onInstances))
	}
	rule := onInstances[0]
	if rule.Str("referencedSecurityGroupId") != "sg-alb" {
		t.Errorf("instance ingress source %q, want the load balancer's group", rule.Str("referencedSecurityGroupId"))
	}
	if rule.Has("cidrIpv4") || rule.Has("cidrIpv6") || rule.Has("prefixListId") {
		t.Error("instance ingress admits a CIDR or prefix list: instances must be reachable from the load balancer only")
	}
	if rule.Str("ipProtocol") != "tcp" || rule.Num("fromPort") != infra.DynamicPortFrom || rule.Num("toPort") != infra.DynamicPortTo {
		t.Errorf("instance ingress %s %v-%v, want tcp %d-%d (dynamic host ports)", rule.Str("ipProtocol"),
			rule.Num("fromPort"), rule.Num("toPort"), infra.DynamicPortFrom, infra.DynamicPortTo)
	}
	if rule.Num("fromPort") <= 22 && rule.Num("toPort") >= 22 {
		t.Error("SSH port is open")
	}
}

func TestLoadBalancerEgressReachesOnlyTheInstances(t *testing.T) {
	m := buildCluster(t, nil)
	var fromALB []*pulumitest.Resource
	for _, r := range m.OfType(egressRuleType) {
		if r.Str("securityGroupId") == "sg-alb" {
			fromALB = append(fromALB, r)
		}
	}
	if len(fromALB) != 1 {
		t.Fatalf("load balancer group has %d egress rules, want one to the instances", len(fromALB))
	}
	rule := fromALB[0]
	if rule.Str("referencedSecurityGroupId") != "sg-cluster-instances-sg" || rule.Has("cidrIpv4") {
		t.Errorf("load balancer egress goes to %q%q, want the instance group only", rule.Str("referencedSecurityGroupId"), rule.Str("cidrIpv4"))
	}
	if rule.Num("fromPort") != infra.DynamicPortFrom || rule.Num("toPort") != infra.DynamicPortTo {
		t.Errorf("load balancer egress ports %v-%v", rule.Num("fromPort"), rule.Num("toPort"))
	}
	out := named(t, m, egressRuleType, "cluster-instances-egress")
	if out.Str("securityGroupId") != "sg-cluster-instances-sg" || out.Str("cidrIpv4") != "0.0.0.0/0" {
		t.Errorf("instances need outbound access for image pulls: %v", out.Inputs)
	}
}

func TestLaunchTemplateIsHardened(t *testing.T) {
	m := buildCluster(t, map[string]string{"rootVolumeSize": "40"})
	lt := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate")
	checks := map[string]string{
		"metadataOptions.httpTokens":                   "required",
		"metadataOptions.httpEndpoint":                 "enabled",
		"networkInterfaces.0.associatePublicIpAddress": "false",
		"blockDeviceMappings.0.ebs.encrypted":          "true",
		"blockDeviceMappings.0.ebs.volumeType":         "gp3",
		"blockDeviceMappings.0.deviceName":             "/dev/xvda",
		"instanceType":                                 "t3.medium",
		"imageId":                                      "ami-0123456789abcdef0",
		"networkInterfaces.0.securityGroups.0":         "sg-cluster-instances-sg",
	}
	for path, want := range checks {
		if got := lt.Str(path); got != want {
			t.Errorf("launch template %s = %q, want %q", path, got, want)
		}
	}
	if got := lt.Num("metadataOptions.httpPutResponseHopLimit"); got != 1 {
		t.Errorf("IMDS hop limit %v, want 1 so containers cannot reach the instance role", got)
	}
	if got := lt.Num("blockDeviceMappings.0.ebs.volumeSize"); got != 40 {
		t.Errorf("root volume %v GiB, want 40", got)
	}
	for i, kind := range []string{"volume", "network-interface"} {
		spec := "tagSpecifications." + itoa(i)
		if lt.Str(spec+".resourceType") != kind || lt.Str(spec+".tags.stack") != "test" || lt.Str(spec+".tags.Name") != "ecs-api-test-cluster" {
			t.Errorf("launch template does not tag %ss: %v", kind, lt.Inputs["tagSpecifications"])
		}
	}
	if lt.Has("keyName") {
		t.Error("launch template sets an SSH key pair")
	}
	if lt.Has("vpcSecurityGroupIds") {
		t.Error("security groups belong on the network interface when one is declared")
	}
	if !lt.Bool("monitoring.enabled") {
		t.Error("detailed monitoring is off")
	}
}

func TestUserDataJoinsTheCluster(t *testing.T) {
	m := buildCluster(t, nil)
	lt := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate")
	script, err := base64.StdEncoding.DecodeString(lt.Str("userData"))
	if err != nil {
		t.Fatalf("user data is not base64: %v", err)
	}
	cluster := one(t, m, "aws:ecs/cluster:Cluster")
	for _, line := range []string{"#!/bin/bash", "ECS_CLUSTER=" + cluster.Out("name"), "ECS_RESERVED_MEMORY=256"} {
		if !strings.Contains(string(script), line+"\n") {
			t.Errorf("user data lacks %q:\n%s", line, script)
		}
	}
}

func TestAMIComesFromTheECSOptimizedParameterForTheArchitecture(t *testing.T) {
	for _, tc := range []struct{ instanceType, parameter, ami string }{
		{"m6i.large", "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id", "ami-0123456789abcdef0"},
		{"m7g.large", "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id", "ami-0fedcba9876543210"},
		{"t4g.medium", "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id", "ami-0fedcba9876543210"},
	} {
		m := buildCluster(t, map[string]string{"instanceType": tc.instanceType})
		invokes := m.Invokes()
		if len(invokes) != 1 || invokes[0].Token != "aws:ssm/getParameter:getParameter" {
			t.Fatalf("%s: invokes %v, want one SSM parameter read", tc.instanceType, invokes)
		}
		if got := invokes[0].Args["name"].StringValue(); got != tc.parameter {
			t.Errorf("%s: AMI parameter %q, want %q", tc.instanceType, got, tc.parameter)
		}
		if got := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate").Str("imageId"); got != tc.ami {
			t.Errorf("%s: image %q, want %q", tc.instanceType, got, tc.ami)
		}
	}
}

func TestInstanceRoleHasECSAndSessionManagerPolicies(t *testing.T) {
	m := buildCluster(t, nil)
	role := named(t, m, "aws:iam/role:Role", "cluster-instance-role")
	var trust infra.PolicyDocument
	if err := role.JSON("assumeRolePolicy", &trust); err != nil {
		t.Fatal(err)
	}
	if len(trust.Statement) != 1 || trust.Statement[0].Principal["Service"] != "ec2.amazonaws.com" {
		t.Errorf("instance role trust %+v, want ec2.amazonaws.com only", trust)
	}
	var policies []string
	for _, a := range m.OfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		if a.Str("role") != role.Out("name") {
			t.Errorf("attachment %s is on role %q", a.Name, a.Str("role"))
		}
		policies = append(policies, a.Str("policyArn"))
	}
	want := "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore,arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
	if got := strings.Join(sorted(policies), ","); got != want {
		t.Errorf("instance policies %s, want %s", got, want)
	}
	profile := one(t, m, "aws:iam/instanceProfile:InstanceProfile")
	lt := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate")
	if profile.Str("role") != role.Out("name") || lt.Str("iamInstanceProfile.arn") != profile.Out("arn") {
		t.Error("instances do not get the instance role through the instance profile")
	}
}

func TestAutoScalingGroupUsesPrivateSubnetsAndRollsNewTemplates(t *testing.T) {
	m := buildCluster(t, map[string]string{"minInstances": "2", "maxInstances": "6", "desiredInstances": "3"})
	asg := one(t, m, "aws:autoscaling/group:Group")
	if got := strings.Join(asg.Strs("vpcZoneIdentifiers"), ","); got != "subnet-private-0,subnet-private-1" {
		t.Errorf("ASG subnets %q, want the private subnets", got)
	}
	if asg.Num("minSize") != 2 || asg.Num("maxSize") != 6 || asg.Num("desiredCapacity") != 3 {
		t.Errorf("ASG sizes %v/%v/%v, want 2/6/3", asg.Num("minSize"), asg.Num("maxSize"), asg.Num("desiredCapacity"))
	}
	if asg.Str("launchTemplate.version") != "1" {
		t.Errorf("launch template version %q, want the template's concrete latest version", asg.Str("launchTemplate.version"))
	}
	if asg.Str("instanceRefresh.strategy") != "Rolling" || asg.Num("instanceRefresh.preferences.minHealthyPercentage") != 100 {
		t.Errorf("instance refresh %v, want Rolling keeping 100%% healthy", asg.Inputs["instanceRefresh"])
	}
	if !asg.Bool("forceDelete") || asg.Bool("protectFromScaleIn") {
		t.Error("destroy must not hang: forceDelete on, scale-in protection off")
	}
	if strings.Join(asg.IgnoreChanges, ",") != "desiredCapacity" {
		t.Errorf("ignoreChanges %v, want desiredCapacity (owned by ECS managed scaling)", asg.IgnoreChanges)
	}
	tags := map[string]bool{}
	for i := 0; i < asg.Len("tags"); i++ {
		tags[asg.Str("tags."+itoa(i)+".key")] = asg.Bool("tags." + itoa(i) + ".propagateAtLaunch")
	}
	for _, key := range []string{"Name", "project", "stack", "managed-by", "AmazonECSManaged"} {
		if !tags[key] {
			t.Errorf("ASG tag %q missing or not propagated to instances", key)
		}
	}
}

func TestCapacityProviderScalesTheGroupAndIsTheClusterDefault(t *testing.T) {
	m := buildCluster(t, nil)
	cluster := one(t, m, "aws:ecs/cluster:Cluster")
	if cluster.Str("settings.0.name") != "containerInsights" || cluster.Str("settings.0.value") != "enabled" {
		t.Errorf("Container Insights not enabled: %v", cluster.Inputs["settings"])
	}
	cp := one(t, m, "aws:ecs/capacityProvider:CapacityProvider")
	asg := one(t, m, "aws:autoscaling/group:Group")
	p := "autoScalingGroupProvider."
	if cp.Str(p+"autoScalingGroupArn") != asg.Out("arn") {
		t.Errorf("capacity provider scales %q, want the ASG %q", cp.Str(p+"autoScalingGroupArn"), asg.Out("arn"))
	}
	if cp.Str(p+"managedScaling.status") != "ENABLED" || cp.Num(p+"managedScaling.targetCapacity") != 100 {
		t.Errorf("managed scaling %v", cp.Inputs)
	}
	if cp.Str(p+"managedTerminationProtection") != "DISABLED" || cp.Str(p+"managedDraining") != "ENABLED" {
		t.Errorf("want managed draining without termination protection (which blocks destroy), got %v", cp.Inputs)
	}
	for _, prefix := range []string{"aws", "ecs", "fargate"} {
		if strings.HasPrefix(cp.Out("name"), prefix) {
			t.Errorf("capacity provider name %q starts with reserved %q", cp.Out("name"), prefix)
		}
	}
	ccp := one(t, m, "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
	if ccp.Str("clusterName") != cluster.Out("name") {
		t.Errorf("capacity providers attached to %q", ccp.Str("clusterName"))
	}
	if got := ccp.Strs("capacityProviders"); len(got) != 1 || got[0] != cp.Out("name") {
		t.Errorf("cluster capacity providers %v", got)
	}
	if ccp.Str("defaultCapacityProviderStrategies.0.capacityProvider") != cp.Out("name") {
		t.Errorf("default strategy %v", ccp.Inputs["defaultCapacityProviderStrategies"])
	}
}

func TestClusterRejectsNamesECSReservesForCapacityProviders(t *testing.T) {
	for _, name := range []string{"ecs", "aws-prod", "FargateLike"} {
		_, err := pulumitest.Run(project, "test", baseConfig(t), func(ctx *pulumi.Context) error {
			cfg, err := config.LoadConfig(ctx)
			if err != nil {
				return err
			}
			_, err = infra.NewEcsCluster(ctx, name, &infra.EcsClusterArgs{Config: cfg.Cluster, Partition: "aws"})
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "must not start with") {
			t.Errorf("name %q: error %v, want a reserved-prefix error", name, err)
		}
	}
}
