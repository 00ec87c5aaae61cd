package infra_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
)

func TestNetworkSpansConfiguredZonesWithPublicAndPrivateSubnets(t *testing.T) {
	for _, tc := range []struct {
		azs int
		nat string
	}{{2, "Single"}, {3, "OnePerAz"}} {
		m := build(t, map[string]string{"azCount": itoa(tc.azs), "natGateways": tc.nat, "vpcCidr": "10.20.0.0/16"},
			func(ctx *pulumi.Context, cfg *config.Config) error {
				_, err := infra.NewNetwork(ctx, "net", &infra.NetworkArgs{Config: cfg.Network, FlowLogRetentionDays: 30})
				return err
			})
		vpc := one(t, m, "awsx:ec2:Vpc")
		if !vpc.Remote {
			t.Error("awsx VPC should be registered as a remote component")
		}
		if got := vpc.Str("subnetStrategy"); got != "Auto" {
			t.Errorf("subnet strategy %q, want Auto", got)
		}
		if got := vpc.Str("cidrBlock"); got != "10.20.0.0/16" {
			t.Errorf("CIDR %q, want 10.20.0.0/16", got)
		}
		if got := int(vpc.Num("numberOfAvailabilityZones")); got != tc.azs {
			t.Errorf("AZs %d, want %d", got, tc.azs)
		}
		if got := vpc.Str("natGateways.strategy"); got != tc.nat {
			t.Errorf("NAT strategy %q, want %q", got, tc.nat)
		}
		if a, b := vpc.Str("subnetSpecs.0.type"), vpc.Str("subnetSpecs.1.type"); a != "Public" || b != "Private" || vpc.Len("subnetSpecs") != 2 {
			t.Errorf("subnet specs %q, %q (%d), want Public and Private only", a, b, vpc.Len("subnetSpecs"))
		}
		if got := parentType(vpc); got != project+":infra:Network" {
			t.Errorf("VPC parent %q, want the Network component", got)
		}
	}
}

func TestNetworkClosesTheDefaultSecurityGroup(t *testing.T) {
	m := build(t, nil, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewNetwork(ctx, "net", &infra.NetworkArgs{Config: cfg.Network, FlowLogRetentionDays: 30})
		return err
	})
	sg := one(t, m, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
	if sg.Len("ingress") != 0 || sg.Len("egress") != 0 {
		t.Errorf("default security group keeps rules: ingress %d, egress %d", sg.Len("ingress"), sg.Len("egress"))
	}
	if sg.Str("vpcId") != "vpc-0123456789" {
		t.Errorf("default security group adopted in VPC %q, want the network's", sg.Str("vpcId"))
	}
}

func TestComponentsCanBeUsedTwice(t *testing.T) {
	build(t, nil, func(ctx *pulumi.Context, cfg *config.Config) error {
		for _, name := range []string{"blue", "green"} {
			if _, err := infra.NewNetwork(ctx, name, &infra.NetworkArgs{Config: cfg.Network, FlowLogRetentionDays: 30}); err != nil {
				return err
			}
			if _, err := infra.NewLoadBalancer(ctx, name+"-lb", &infra.LoadBalancerArgs{
				VpcID: pulumi.String("vpc-1"), PublicSubnetIDs: pulumi.ToStringArray([]string{"a", "b"}),
				ContainerPort: 3000, Config: cfg.LoadBalancer,
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestNetworkRecordsFlowLogsToItsOwnGroup(t *testing.T) {
	m := build(t, nil, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewNetwork(ctx, "net", &infra.NetworkArgs{Config: cfg.Network, FlowLogRetentionDays: 14})
		return err
	})
	flow := one(t, m, "aws:ec2/flowLog:FlowLog")
	group := one(t, m, "aws:cloudwatch/logGroup:LogGroup")
	role := one(t, m, "aws:iam/role:Role")
	if flow.Str("vpcId") != "vpc-0123456789" || flow.Str("trafficType") != "ALL" || flow.Str("logDestinationType") != "cloud-watch-logs" {
		t.Errorf("flow log %v", flow.Inputs)
	}
	if flow.Str("logDestination") != group.Out("arn") || flow.Str("iamRoleArn") != role.Out("arn") || group.Num("retentionInDays") != 14 {
		t.Errorf("flow log writes to %q with %q; group retention %v", flow.Str("logDestination"), flow.Str("iamRoleArn"), group.Num("retentionInDays"))
	}
	var trust, doc infra.PolicyDocument
	if err := role.JSON("assumeRolePolicy", &trust); err != nil || trust.Statement[0].Principal["Service"] != "vpc-flow-logs.amazonaws.com" {
		t.Errorf("flow log role trust %+v %v", trust, err)
	}
	if err := one(t, m, "aws:iam/rolePolicy:RolePolicy").JSON("policy", &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Statement[0].Resource {
		if !strings.HasPrefix(r, group.Out("arn")) {
			t.Errorf("flow log role may write to %q, beyond its group", r)
		}
	}
}
