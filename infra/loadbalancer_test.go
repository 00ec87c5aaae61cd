package infra_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const testCertificate = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"

func buildLoadBalancer(t *testing.T, overrides map[string]string) *pulumitest.Mocks {
	t.Helper()
	return build(t, overrides, func(ctx *pulumi.Context, cfg *infra.Config) error {
		_, err := infra.NewLoadBalancer(ctx, "web", &infra.LoadBalancerArgs{
			VpcID:           pulumi.String("vpc-1"),
			PublicSubnetIDs: pulumi.ToStringArray([]string{"subnet-public-0", "subnet-public-1"}),
			ContainerPort:   3000,
			Config:          cfg.LoadBalancer,
		})
		return err
	})
}

// ingressSummary renders each ingress rule as "port cidr" for comparison.
func ingressSummary(rules []*pulumitest.Resource) []string {
	var out []string
	for _, r := range rules {
		source := r.Str("cidrIpv4") + r.Str("cidrIpv6") + r.Str("referencedSecurityGroupId")
		out = append(out, r.Str("ipProtocol")+" "+itoa(int(r.Num("fromPort")))+"-"+itoa(int(r.Num("toPort")))+" "+source)
	}
	sort.Strings(out)
	return out
}

func TestLoadBalancerAdmitsOnlyHTTPFromTheInternet(t *testing.T) {
	m := buildLoadBalancer(t, nil)
	sg := named(t, m, sgType, "web-sg")
	if sg.Len("ingress") != 0 || sg.Len("egress") != 0 {
		t.Error("load balancer security group has inline rules; rules must be separate resources")
	}
	rules := m.OfType(ingressRuleType)
	for _, r := range rules {
		if r.Str("securityGroupId") != "sg-web-sg" {
			t.Errorf("rule %s is on %q, want the load balancer's group", r.Name, r.Str("securityGroupId"))
		}
	}
	want := []string{"tcp 80-80 0.0.0.0/0", "tcp 80-80 ::/0"}
	if got := ingressSummary(rules); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ingress %v, want %v", got, want)
	}
	if n := len(m.OfType(egressRuleType)); n != 0 {
		t.Errorf("load balancer adds %d egress rules itself; egress to the instances belongs to EcsCluster", n)
	}
}

func TestLoadBalancerAddsHTTPSWithACertificate(t *testing.T) {
	m := buildLoadBalancer(t, map[string]string{"certificateArn": testCertificate})
	want := []string{"tcp 443-443 0.0.0.0/0", "tcp 443-443 ::/0", "tcp 80-80 0.0.0.0/0", "tcp 80-80 ::/0"}
	if got := ingressSummary(m.OfType(ingressRuleType)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ingress %v, want %v", got, want)
	}

	https := named(t, m, listenerType, "web-https")
	if https.Num("port") != 443 || https.Str("protocol") != "HTTPS" {
		t.Errorf("HTTPS listener on %v/%s", https.Num("port"), https.Str("protocol"))
	}
	if https.Str("sslPolicy") != infra.TLSPolicy || !strings.Contains(infra.TLSPolicy, "TLS13") {
		t.Errorf("HTTPS policy %q, want a TLS 1.3 policy", https.Str("sslPolicy"))
	}
	if https.Str("certificateArn") != testCertificate {
		t.Errorf("HTTPS certificate %q", https.Str("certificateArn"))
	}
	if https.Str("defaultActions.0.type") != "forward" || https.Str("defaultActions.0.targetGroupArn") == "" {
		t.Errorf("HTTPS listener does not forward to the target group: %v", https.Inputs["defaultActions"])
	}

	http := named(t, m, listenerType, "web-http")
	if got := http.Str("defaultActions.0.type"); got != "redirect" {
		t.Fatalf("HTTP listener action %q, want redirect when HTTPS is on", got)
	}
	if http.Str("defaultActions.0.redirect.protocol") != "HTTPS" || http.Str("defaultActions.0.redirect.port") != "443" ||
		http.Str("defaultActions.0.redirect.statusCode") != "HTTP_301" {
		t.Errorf("HTTP redirect %v, want a permanent redirect to HTTPS:443", http.Inputs["defaultActions"])
	}
}

func TestLoadBalancerForwardsHTTPWithoutACertificate(t *testing.T) {
	m := buildLoadBalancer(t, nil)
	if n := len(m.OfType(listenerType)); n != 1 {
		t.Fatalf("%d listeners, want only HTTP", n)
	}
	http := named(t, m, listenerType, "web-http")
	tg := named(t, m, "aws:lb/targetGroup:TargetGroup", "web-tg")
	if http.Num("port") != 80 || http.Str("protocol") != "HTTP" {
		t.Errorf("listener on %v/%s, want 80/HTTP", http.Num("port"), http.Str("protocol"))
	}
	if http.Str("defaultActions.0.type") != "forward" || http.Str("defaultActions.0.targetGroupArn") != tg.Out("arn") {
		t.Errorf("HTTP listener does not forward to the target group: %v", http.Inputs["defaultActions"])
	}
}

func TestLoadBalancerIsPublicAndHardened(t *testing.T) {
	m := buildLoadBalancer(t, map[string]string{"idleTimeout": "120", "deletionProtection": "true"})
	alb := one(t, m, "aws:lb/loadBalancer:LoadBalancer")
	if alb.Str("loadBalancerType") != "application" || alb.Bool("internal") {
		t.Errorf("want an internet-facing application load balancer, got type %q internal %v", alb.Str("loadBalancerType"), alb.Bool("internal"))
	}
	if got := strings.Join(alb.Strs("subnets"), ","); got != "subnet-public-0,subnet-public-1" {
		t.Errorf("subnets %q, want the public subnets", got)
	}
	if got := alb.Strs("securityGroups"); len(got) != 1 || got[0] != "sg-web-sg" {
		t.Errorf("security groups %v, want only the load balancer's", got)
	}
	if !alb.Bool("dropInvalidHeaderFields") {
		t.Error("invalid header fields are not dropped")
	}
	if alb.Str("desyncMitigationMode") != "defensive" {
		t.Errorf("desync mitigation %q", alb.Str("desyncMitigationMode"))
	}
	if !alb.Bool("enableDeletionProtection") || alb.Num("idleTimeout") != 120 {
		t.Errorf("deletion protection %v, idle timeout %v", alb.Bool("enableDeletionProtection"), alb.Num("idleTimeout"))
	}
	if alb.Has("name") {
		t.Errorf("ALB has a fixed name %q; let Pulumi auto-name it (32-character limit)", alb.Str("name"))
	}
}

func TestTargetGroupRegistersInstancesAndChecksHealthFromConfig(t *testing.T) {
	m := buildLoadBalancer(t, map[string]string{
		"healthCheckPath": "/ready", "healthCheckMatcher": "200-299", "healthCheckInterval": "15",
		"healthCheckTimeout": "6", "healthyThreshold": "3", "unhealthyThreshold": "4", "deregistrationDelay": "20",
	})
	tg := one(t, m, "aws:lb/targetGroup:TargetGroup")
	for path, want := range map[string]string{
		"targetType": "instance", "protocol": "HTTP", "vpcId": "vpc-1",
		"healthCheck.path": "/ready", "healthCheck.matcher": "200-299",
		"healthCheck.port": "traffic-port", "healthCheck.protocol": "HTTP",
	} {
		if got := tg.Str(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	for path, want := range map[string]float64{
		"healthCheck.interval": 15, "healthCheck.timeout": 6, "healthCheck.healthyThreshold": 3,
		"healthCheck.unhealthyThreshold": 4, "deregistrationDelay": 20,
	} {
		if got := tg.Num(path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if !tg.Bool("healthCheck.enabled") {
		t.Error("health check disabled")
	}
}

func TestTargetGroupDefaultsDrainFasterThanAWS(t *testing.T) {
	m := buildLoadBalancer(t, nil)
	tg := one(t, m, "aws:lb/targetGroup:TargetGroup")
	if got := tg.Num("deregistrationDelay"); got != 30 {
		t.Errorf("default deregistration delay %v, want 30 (AWS's 300 makes every rollout slow)", got)
	}
	if got := tg.Str("healthCheck.path"); got != "/health" {
		t.Errorf("default health check path %q, want /health", got)
	}
}
