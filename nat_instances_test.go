package main

// NAT instances over every stack file and network choice (review 2026-12-A): each NAT role reaches
// only its own stack's NAT (A10), each NAT group keeps one Elastic IP and replaces its instance
// launch-before-terminate (A6). The boot script itself is run in infra/natinstance_test.go (A5).

import (
	"slices"
	"strings"
	"testing"

	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const eipType = "aws:ec2/eip:Eip"

// networkChoices are the variants that differ in the way out: NAT gateways, NAT instances (one or
// one per AZ), none, an existing VPC.
var networkChoices = map[string]bool{"as-is": true, "nat-single": true, "nat-per-az": true, "nat-instance": true,
	"nat-instance-per-az": true, "no-nat": true, "own-vpc": true, "own-vpc-endpoints-only": true}

// forEachNetworkChoice runs the program for every stack file with each network choice.
func forEachNetworkChoice(t *testing.T, check func(t *testing.T, stack string, m *pulumitest.Mocks)) {
	for _, stack := range stackFiles(t) {
		_, base, err := pulumitest.StackConfig(".", stack)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range variants(base["ecs-api:instanceType"]) {
			if !networkChoices[v.name] {
				continue
			}
			t.Run(stack+"/"+v.name, func(t *testing.T) {
				project, cfg := variantConfig(t, stack, v)
				m, err := pulumitest.Run(project, stack, cfg, program)
				if err != nil {
					t.Fatalf("program failed: %v", err)
				}
				check(t, stack, m)
			})
		}
	}
}

// natPolicy is the routing policy of a NAT group, as sent.
func natPolicy(t *testing.T, m *pulumitest.Mocks, nat string) infra.PolicyDocument {
	t.Helper()
	var doc infra.PolicyDocument
	p := m.Named("aws:iam/rolePolicy:RolePolicy", nat+"-routing")
	if p == nil {
		t.Fatalf("no routing policy for %s", nat)
	}
	if err := p.JSON("policy", &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// groupTag is the nat-instance tag an Auto Scaling group propagates to its instances.
func groupTag(g *pulumitest.Resource) string {
	for i := 0; i < g.Len("tags"); i++ {
		if g.Str("tags."+itoa(i)+".key") == infra.NatInstanceTag {
			return g.Str("tags." + itoa(i) + ".value")
		}
	}
	return ""
}

// TestNatInstanceRolesReachOnlyTheirOwnStacksNat: review 2026-12-A, A10. The NAT role's
// ModifyInstanceAttribute was scoped by the tag nat-instance=network-nat-1, the same in every stack
// of the project, so a dev NAT could re-enable prod's source/destination check (an egress outage) or
// change any other attribute of it. Now every tag the NAT group carries and every tag condition of
// its role is <project>/<stack>/<group>; ModifyInstanceAttribute may only set SourceDestCheck to
// false (`ec2:Attribute/${AttributeName}`, "Condition keys for Amazon EC2" in the EC2 User Guide);
// AssociateAddress names the group's own Elastic IP; and no write reaches a wildcard ARN without
// the group's tag.
func TestNatInstanceRolesReachOnlyTheirOwnStacksNat(t *testing.T) {
	forEachNetworkChoice(t, func(t *testing.T, stack string, m *pulumitest.Mocks) {
		for _, nat := range natGroups(m) {
			want := m.Project + "/" + stack + "/" + nat.Name
			if got := groupTag(nat); got != want {
				t.Errorf("%s propagates %s=%q, want %q", nat.Name, infra.NatInstanceTag, got, want)
			}
			lt := m.Named(ltType, nat.Name+"-lt")
			if got := lt.Str("tags." + infra.NatInstanceTag); got != want {
				t.Errorf("%s launch template tagged %q, want %q", nat.Name, got, want)
			}
			tagged := map[string]bool{}
			for i := 0; i < lt.Len("tagSpecifications"); i++ {
				spec := "tagSpecifications." + itoa(i)
				if lt.Str(spec+".tags."+infra.NatInstanceTag) == want {
					tagged[lt.Str(spec+".resourceType")] = true
				}
			}
			for _, typ := range []string{"instance", "volume", "network-interface"} {
				if !tagged[typ] {
					t.Errorf("%s: its %ss are not tagged %s=%s at launch", nat.Name, typ, infra.NatInstanceTag, want)
				}
			}
			eip := m.Named(eipType, nat.Name+"-eip")
			if eip == nil {
				t.Fatalf("%s has no Elastic IP", nat.Name)
			}
			if got := eip.Str("tags." + infra.NatInstanceTag); got != want {
				t.Errorf("%s Elastic IP tagged %q, want %q", nat.Name, got, want)
			}

			var modify, holdAddress, reportHealth bool
			for _, st := range natPolicy(t, m, nat.Name).Statement {
				for op, keys := range st.Condition {
					for key, value := range keys {
						if strings.Contains(key, "ResourceTag/") && (key != "aws:ResourceTag/"+infra.NatInstanceTag || value != want || op != "StringEquals") {
							t.Errorf("%s %s: condition %s %s=%q, want StringEquals on its own %q", nat.Name, st.Sid, op, key, value, want)
						}
					}
				}
				scoped := st.Condition["StringEquals"]["aws:ResourceTag/"+infra.NatInstanceTag] == want
				for _, a := range st.Action {
					if strings.Contains(a, ":Describe") {
						continue
					}
					for _, r := range st.Resource {
						if strings.Contains(r, "*") && !scoped {
							t.Errorf("%s may %s on %s, not scoped to its own group", nat.Name, a, r)
						}
					}
				}
				if slices.Contains(st.Action, "ec2:ModifyInstanceAttribute") {
					modify = true
					// IfExists: the key is reported absent for some Modify*Attribute calls (review R2).
					if !scoped || st.Condition["StringEqualsIfExists"]["ec2:Attribute/SourceDestCheck"] != "false" || len(st.Action) != 1 {
						t.Errorf("%s may modify %v of instances %v, want only SourceDestCheck to false on its own", nat.Name, st.Action, st.Condition)
					}
				}
				if slices.Contains(st.Action, "ec2:AssociateAddress") && !scoped {
					holdAddress = true
					wantArn := "arn:aws:ec2:" + pulumitest.Region + ":" + pulumitest.Account + ":elastic-ip/" + eip.ID
					if strings.Join(st.Resource, ",") != wantArn {
						t.Errorf("%s may associate %v, want only its own %s", nat.Name, st.Resource, wantArn)
					}
				}
				reportHealth = reportHealth || (slices.Contains(st.Action, "autoscaling:SetInstanceHealth") && scoped)
			}
			if !modify || !holdAddress || !reportHealth {
				t.Errorf("%s: turns off its check %v, holds its address %v, reports its health %v", nat.Name, modify, holdAddress, reportHealth)
			}
		}
		if len(natGroups(m)) == 0 && len(m.OfType(eipType)) != 0 {
			t.Errorf("no NAT instances, yet %d Elastic IPs", len(m.OfType(eipType)))
		}
	})
}

// TestNatRolesOfTwoStacksInOneAccountShareNoTag: review 2026-12-A, A10, as it happens: two stacks
// of the project (dev and a staging copy of it) in one account and region. No tag that a NAT role
// of one may act on is carried by anything of the other.
func TestNatRolesOfTwoStacksInOneAccountShareNoTag(t *testing.T) {
	project, cfg := variantConfig(t, "dev", variant{plain: map[string]string{"natGateways": "Instance"}})
	conditions := map[string]map[string]bool{} // stack: tag values its NAT roles act on
	carried := map[string]map[string]bool{}    // stack: nat-instance values its resources carry
	for _, stack := range []string{"dev", "staging"} {
		m, err := pulumitest.Run(project, stack, cfg, program)
		if err != nil {
			t.Fatalf("%s: %v", stack, err)
		}
		conditions[stack], carried[stack] = map[string]bool{}, map[string]bool{}
		for _, nat := range natGroups(m) {
			carried[stack][groupTag(nat)] = true
			for _, st := range natPolicy(t, m, nat.Name).Statement {
				for _, keys := range st.Condition {
					for key, value := range keys {
						if strings.Contains(key, "ResourceTag/") {
							conditions[stack][value] = true
						}
					}
				}
			}
		}
		for _, r := range append(m.OfType(ltType), m.OfType(eipType)...) {
			if v := r.Str("tags." + infra.NatInstanceTag); v != "" {
				carried[stack][v] = true
			}
		}
		if len(conditions[stack]) == 0 {
			t.Fatalf("%s: no tag-scoped NAT statement; the test would check nothing", stack)
		}
	}
	for _, pair := range [][2]string{{"dev", "staging"}, {"staging", "dev"}} {
		for value := range conditions[pair[0]] {
			if carried[pair[1]][value] {
				t.Errorf("a NAT role of %s may act on %s's resources tagged %s=%s", pair[0], pair[1], infra.NatInstanceTag, value)
			}
		}
	}
}

// TestNoRoleIsScopedByATagOtherStacksCarry: the class of A10 across the whole graph. Any IAM
// statement of the program that scopes by a resource tag names this stack in the value: a value
// without it (a logical name, a fixed word) is the same in every stack of the project.
func TestNoRoleIsScopedByATagOtherStacksCarry(t *testing.T) {
	forEachNetworkChoice(t, func(t *testing.T, stack string, m *pulumitest.Mocks) {
		prefix := m.Project + "/" + stack + "/"
		for _, typ := range []string{"aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"} {
			for _, p := range m.OfType(typ) {
				var doc infra.PolicyDocument
				if err := p.JSON("policy", &doc); err != nil {
					t.Fatalf("%s: %v", p.Name, err)
				}
				for _, st := range doc.Statement {
					for _, keys := range st.Condition {
						for key, value := range keys {
							if strings.Contains(key, "ResourceTag/") && !strings.HasPrefix(value, prefix) {
								t.Errorf("%s %s: %s=%q does not name the stack (%s...)", p.Name, st.Sid, key, value, prefix)
							}
						}
					}
				}
			}
		}
	})
}

// TestNatInstancesLaunchTheirReplacementFirstAndKeepTheirAddress: review 2026-12-A, A6. A new AMI
// (read on every deploy) gave a new launch template version, and the refresh with
// MinHealthyPercentage 0 terminated the only NAT first: private egress down for minutes, and a new
// public address each time. Now the group replaces launch-before-terminate for a refresh and for a
// failed health check alike (MinHealthyPercentage 100, MaxHealthyPercentage 200: "Instance
// maintenance policies", EC2 Auto Scaling User Guide; the refresh names both, since the provider
// sends 90/100 for any it is not given, hashicorp/terraform-provider-aws#39872), gives the new
// instance NatInstanceWarmupSeconds beside the old one, and each group has one Elastic IP, created
// before its instance boots, that the instance holding the routes associates with itself.
func TestNatInstancesLaunchTheirReplacementFirstAndKeepTheirAddress(t *testing.T) {
	forEachNetworkChoice(t, func(t *testing.T, stack string, m *pulumitest.Mocks) {
		g := newGraph(m)
		for _, nat := range natGroups(m) {
			for _, prefs := range []string{"instanceRefresh.preferences", "instanceMaintenancePolicy"} {
				if nat.Num(prefs+".minHealthyPercentage") != 100 || nat.Num(prefs+".maxHealthyPercentage") != 200 {
					t.Errorf("%s %s: min %v, max %v healthy; want 100 and 200 (launch before terminate)", nat.Name, prefs,
						nat.Num(prefs+".minHealthyPercentage"), nat.Num(prefs+".maxHealthyPercentage"))
				}
			}
			if nat.Str("instanceRefresh.strategy") != "Rolling" || nat.Num("defaultInstanceWarmup") != infra.NatInstanceWarmupSeconds {
				t.Errorf("%s: refresh %q, warmup %v s", nat.Name, nat.Str("instanceRefresh.strategy"), nat.Num("defaultInstanceWarmup"))
			}
			eip := m.Named(eipType, nat.Name+"-eip")
			if eip == nil || eip.Str("domain") != "vpc" {
				t.Fatalf("%s: no VPC Elastic IP of its own", nat.Name)
			}
			if !g.waitsFor(nat)[eip.URN] {
				t.Errorf("%s can launch before its Elastic IP exists", nat.Name)
			}
		}
		if got, want := len(m.OfType(eipType)), len(natGroups(m)); got != want {
			t.Errorf("%d Elastic IPs for %d NAT instances", got, want)
		}
	})
}

// TestNatInstanceAddressSurvivesTurningNatInstancePerAzOn: the first NAT group keeps its logical
// name, so its Elastic IP (the address users allow-list) is the same resource with one NAT instance
// and with one per AZ; the others get addresses of their own.
func TestNatInstanceAddressSurvivesTurningNatInstancePerAzOn(t *testing.T) {
	addresses := func(perAz bool) []string {
		project, cfg := variantConfig(t, "dev", variant{plain: map[string]string{"natGateways": "Instance"},
			objects: map[string]map[string]any{"network": {"natInstancePerAz": perAz}}})
		m, err := pulumitest.Run(project, "dev", cfg, program)
		if err != nil {
			t.Fatal(err)
		}
		var urns []string
		for _, eip := range m.OfType(eipType) {
			urns = append(urns, eip.URN)
		}
		return urns
	}
	single, perAz := addresses(false), addresses(true)
	if len(single) != 1 || len(perAz) < 2 || !slices.Contains(perAz, single[0]) {
		t.Errorf("Elastic IPs with one NAT instance %v, with one per AZ %v: want the first kept", single, perAz)
	}
}
