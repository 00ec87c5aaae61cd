package infra_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const endpointType = "aws:ec2/vpcEndpoint:VpcEndpoint"

// TestEndpointServiceNamesComeFromTheRegionInChina (review A7): the provider builds
// com.amazonaws.<region>.<service> from `service` (terraform-provider-aws
// vpc_endpoint_service_data_source.go), which in China names no ECR endpoint: "InvalidServiceName:
// The Vpc Endpoint Service 'com.amazonaws.cn-north-1.ecr.dkr' does not exist"
// (terraform-provider-aws#17640). There the prefix depends on the service (aws-cdk#16139), so the
// lookup offers both names and takes the one the region has.
func TestEndpointServiceNamesComeFromTheRegionInChina(t *testing.T) {
	m := build(t, map[string]string{"network": `{"endpoints": ["ecr.api", "ecr.dkr", "logs"]}`},
		func(ctx *pulumi.Context, cfg *config.Config) error {
			_, err := infra.NewNetwork(ctx, "net", &infra.NetworkArgs{Config: cfg.Network, FlowLogRetentionDays: 30, Region: "cn-north-1", Partition: "aws-cn"})
			return err
		})
	for name, want := range map[string]string{
		"net-s3": "com.amazonaws.cn-north-1.s3", "net-logs": "com.amazonaws.cn-north-1.logs",
		"net-ecr-api": "cn.com.amazonaws.cn-north-1.ecr.api", "net-ecr-dkr": "cn.com.amazonaws.cn-north-1.ecr.dkr",
	} {
		if got := named(t, m, endpointType, name).Str("serviceName"); got != want {
			t.Errorf("%s: service %q, want %q", name, got, want)
		}
	}
	for _, call := range m.Invokes() {
		if call.Token != "aws:ec2/getVpcEndpointService:getVpcEndpointService" {
			continue
		}
		if _, built := call.Args["service"]; built {
			t.Errorf("the lookup in China passes service %v, from which the provider builds com.amazonaws.<region>.<service>", call.Args["service"])
		}
	}
}

// TestEndpointServiceNamesOutsideChinaAreTheProvidersOwn: elsewhere every AWS service's endpoint
// is com.amazonaws.<region>.<service>, and the lookup stays the provider's `service` + type.
func TestEndpointServiceNamesOutsideChinaAreTheProvidersOwn(t *testing.T) {
	m := build(t, map[string]string{"network": `{"endpoints": ["ecr.api"]}`}, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewNetwork(ctx, "net", &infra.NetworkArgs{Config: cfg.Network, FlowLogRetentionDays: 30, Region: "us-east-1", Partition: "aws"})
		return err
	})
	if got := named(t, m, endpointType, "net-ecr-api").Str("serviceName"); got != "com.amazonaws."+pulumitest.Region+".ecr.api" {
		t.Errorf("ecr.api endpoint service %q", got)
	}
}

// TestEndpointsAdmitTheVpcNotJustTheInstances (review A2): private DNS makes the endpoints answer
// for the whole VPC, so the group admits its CIDR on 443, and the instances' start waits for it.
func TestEndpointsAdmitTheVpcNotJustTheInstances(t *testing.T) {
	m := build(t, map[string]string{"vpcCidr": "10.20.0.0/16", "network": `{"endpoints": ["ssm", "ssmmessages", "ec2messages"]}`},
		func(ctx *pulumi.Context, cfg *config.Config) error {
			net, err := infra.NewNetwork(ctx, "net", &infra.NetworkArgs{Config: cfg.Network, FlowLogRetentionDays: 30})
			if err != nil {
				return err
			}
			ctx.Export("egress", pulumi.Int(len(net.Egress)))
			return nil
		})
	sg := named(t, m, sgType, "net-endpoints-sg")
	var rules []*pulumitest.Resource
	for _, r := range m.OfType(ingressRuleType) {
		if r.Str("securityGroupId") == sg.Out("id") {
			rules = append(rules, r)
		}
	}
	if len(rules) != 1 || rules[0].Str("cidrIpv4") != "10.20.0.0/16" || rules[0].Str("ipProtocol") != "tcp" ||
		rules[0].Num("fromPort") != 443 || rules[0].Num("toPort") != 443 || rules[0].Name != "net-endpoints-from-10-20-0-0-16" {
		t.Fatalf("endpoint rules %v, want one admitting 10.20.0.0/16 on 443", rules)
	}
	// Egress: the S3 endpoint, the rule and the three interface endpoints.
	if got := m.Exports["egress"]; got != 5.0 && got != 5 {
		t.Errorf("%v resources for the instances to wait for, want 5", got)
	}
	for _, ep := range m.OfType(endpointType) {
		if ep.Str("vpcEndpointType") == "Interface" && !slices.Contains(ep.Strs("securityGroupIds"), sg.Out("id")) {
			t.Errorf("%s is not behind the endpoints' group", ep.Name)
		}
		if strings.Contains(ep.Name, "from") {
			t.Errorf("unexpected %s", ep.Name)
		}
	}
}
