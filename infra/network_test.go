package infra_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/infra"
)

func TestNetworkSpansConfiguredZonesWithPublicAndPrivateSubnets(t *testing.T) {
	for _, tc := range []struct {
		azs int
		nat string
	}{{2, "Single"}, {3, "OnePerAz"}} {
		m := build(t, map[string]string{"azCount": itoa(tc.azs), "natGateways": tc.nat, "vpcCidr": "10.20.0.0/16"},
			func(ctx *pulumi.Context, cfg *infra.Config) error {
				_, err := infra.NewNetwork(ctx, "net", &infra.NetworkArgs{Config: cfg.Network})
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
	m := build(t, nil, func(ctx *pulumi.Context, cfg *infra.Config) error {
		_, err := infra.NewNetwork(ctx, "net", &infra.NetworkArgs{Config: cfg.Network})
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
	build(t, nil, func(ctx *pulumi.Context, cfg *infra.Config) error {
		for _, name := range []string{"blue", "green"} {
			if _, err := infra.NewNetwork(ctx, name, &infra.NetworkArgs{Config: cfg.Network}); err != nil {
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
