package policy

import (
	"fmt"
	"strings"
)

// ingress is one inbound rule, from a rule resource or a security group's inline block.
type ingress struct {
	res      *Resource
	property string
	group    string // the security group it opens
	sources  []string
	fromSG   string
	from, to int
}

func (i ingress) internet() bool {
	return contains(i.sources, "0.0.0.0/0") || contains(i.sources, "::/0")
}

func ingressRules(s *Stack) []ingress {
	var out []ingress
	for _, r := range s.OfType(typeIngressRule) {
		var sources []string
		for _, k := range []string{"cidrIpv4", "cidrIpv6", "prefixListId"} {
			if v := r.Str(k); v != "" {
				sources = append(sources, v)
			}
		}
		out = append(out, ingress{res: r, property: "ingress", group: r.Str("securityGroupId"), sources: sources,
			fromSG: r.Str("referencedSecurityGroupId"), from: int(r.Num("fromPort")), to: int(r.Num("toPort"))})
	}
	for _, sg := range s.OfType(typeSecurityGroup) {
		for i := 0; i < sg.Len("ingress"); i++ {
			p := fmt.Sprintf("ingress.%d", i)
			sources := append(sg.Strs(p+".cidrBlocks"), sg.Strs(p+".ipv6CidrBlocks")...)
			sources = append(sources, sg.Strs(p+".prefixListIds")...)
			out = append(out, ingress{res: sg, property: p, group: sg.Out("id"), sources: sources,
				fromSG: strings.Join(sg.Strs(p+".securityGroups"), ","), from: int(sg.Num(p + ".fromPort")), to: int(sg.Num(p + ".toPort"))})
		}
	}
	return out
}

// loadBalancerGroups are the ids of the security groups attached to load balancers.
func loadBalancerGroups(s *Stack) map[string]bool {
	out := map[string]bool{}
	for _, lb := range s.OfType(typeLoadBalancer) {
		for _, id := range lb.Strs("securityGroups") {
			out[id] = true
		}
	}
	return out
}

var networkControls = []Control{
	{
		ID: "EC2.2", Title: "The VPC's default security group allows no traffic", Severity: High,
		Satisfied: "Network adopts the default security group with no rules",
		Check: func(s *Stack, report Reporter) {
			for _, vpc := range s.OfType(typeVpc) {
				closed := false
				for _, d := range s.OfType(typeDefaultSG) {
					if d.Str("vpcId") == vpc.Out("vpcId") && d.Len("ingress") == 0 && d.Len("egress") == 0 {
						closed = true
					}
				}
				if !closed {
					report(vpc, "defaultSecurityGroup", "no rule-less default security group is declared for this VPC")
				}
			}
		},
	},
	{
		ID: "EC2.6", Title: "VPC flow logging is enabled", Severity: Medium,
		Satisfied: "Network sends ALL traffic flow logs to a CloudWatch log group",
		Check: func(s *Stack, report Reporter) {
			for _, vpc := range s.OfType(typeVpc) {
				logged := false
				for _, f := range s.OfType(typeFlowLog) {
					if f.Str("vpcId") == vpc.Out("vpcId") && (f.Str("trafficType") == "ALL" || f.Str("trafficType") == "REJECT") {
						logged = true
					}
				}
				if !logged {
					report(vpc, "flowLog", "no flow log records this VPC's traffic")
				}
			}
		},
	},
	{
		ID: "EC2.15", Title: "Instances launch only into private subnets", Severity: Medium,
		Satisfied: "the Auto Scaling groups use the private subnets only (NAT instances: the public ones, by design)",
		Check: func(s *Stack, report Reporter) {
			private, public := map[string]bool{}, map[string]bool{}
			for _, vpc := range s.OfType(typeVpc) {
				for _, id := range vpc.OutStrs("privateSubnetIds") {
					private[id] = true
				}
				for _, id := range vpc.OutStrs("publicSubnetIds") {
					public[id] = true
				}
			}
			// In an existing VPC the load balancer's subnets are the public ones.
			for _, lb := range s.OfType(typeLoadBalancer) {
				for _, id := range lb.Strs("subnets") {
					public[id] = true
				}
			}
			for _, asg := range s.OfType(typeASG) {
				for _, id := range asg.Strs("vpcZoneIdentifiers") {
					switch {
					case IsNatInstance(asg):
						if !public[id] {
							report(asg, "vpcZoneIdentifiers", "NAT instance subnet %s is not a public subnet: it could not reach the internet", id)
						}
					case len(private) > 0 && !private[id]:
						report(asg, "vpcZoneIdentifiers", "subnet %s is not a private subnet of the VPC", id)
					case public[id]:
						report(asg, "vpcZoneIdentifiers", "subnet %s is a public subnet", id)
					}
				}
			}
		},
	},
	{
		ID: "EC2.18", Title: "Internet ingress is allowed only on ports 80 and 443", Severity: High,
		Satisfied: "only the load balancer's 80 (and 443) rules admit 0.0.0.0/0 and ::/0",
		Check: func(s *Stack, report Reporter) {
			for _, in := range ingressRules(s) {
				if in.internet() && !(in.from == in.to && (in.from == 80 || in.from == 443)) {
					report(in.res, in.property, "admits the internet on %d-%d", in.from, in.to)
				}
			}
		},
	},
	{
		ID: "EC2.19", Title: "Internet ingress reaches only the load balancer's security group", Severity: Critical,
		Satisfied: "instances, database and cache groups have no internet rule",
		Check: func(s *Stack, report Reporter) {
			lbGroups := loadBalancerGroups(s)
			for _, in := range ingressRules(s) {
				if in.internet() && !lbGroups[in.group] {
					report(in.res, in.property, "opens %q, which no load balancer uses, to the internet", in.group)
				}
			}
		},
	},
	{
		ID: "APP.NET.1", Title: "Instance, database and cache groups admit only named security groups", Severity: High,
		Satisfied: "every rule into a non-load-balancer group references a security group (NAT instances: APP.NET.2; interface endpoints admit the VPC's own CIDR blocks on 443)",
		Check: func(s *Stack, report Reporter) {
			lbGroups, natGroups, endpointGroups := loadBalancerGroups(s), natSecurityGroups(s), endpointSecurityGroups(s)
			for _, in := range ingressRules(s) {
				// An interface endpoint's private DNS answers for the whole VPC, so its group admits
				// the VPC's addresses on 443 (the VPC User Guide's setup): those, not any other
				// private range, and never a prefix list (review R8).
				if endpointGroups[in.group] && in.from == 443 && in.to == 443 && admitsOnlyItsVpc(s, in) {
					continue
				}
				if !lbGroups[in.group] && !natGroups[in.group] && (len(in.sources) > 0 || in.fromSG == "") {
					report(in.res, in.property, "admits %v into %q instead of a named security group", in.sources, in.group)
				}
			}
		},
	},
	{
		ID: "APP.NET.2", Title: "NAT instances forward only the VPC's traffic and need no key", Severity: High,
		Satisfied: "natGateways Instance: ingress from the VPC's CIDR only, no key pair, IMDSv2, encrypted volume (EC2.8, EC2.3)",
		Check: func(s *Stack, report Reporter) {
			natGroups := natSecurityGroups(s)
			vpcCidrs := map[string]bool{}
			for _, vpc := range s.OfType(typeVpc) {
				vpcCidrs[vpc.Str("cidrBlock")] = true
			}
			for _, in := range ingressRules(s) {
				if !natGroups[in.group] {
					continue
				}
				for _, src := range in.sources {
					if !vpcCidrs[src] {
						report(in.res, in.property, "admits %s into a NAT instance: only the VPC's own traffic goes out through it", src)
					}
				}
			}
			for _, lt := range s.OfType(typeLaunchTemplate) {
				if IsNatInstance(lt) && lt.Str("keyName") != "" {
					report(lt, "keyName", "is %q: NAT instances are reached through Session Manager, without SSH keys", lt.Str("keyName"))
				}
			}
		},
	},
}

// endpointSecurityGroups are the groups of the stack's interface endpoints.
func endpointSecurityGroups(s *Stack) map[string]bool {
	out := map[string]bool{}
	for _, ep := range s.OfType("aws:ec2/vpcEndpoint:VpcEndpoint") {
		for _, sg := range ep.Strs("securityGroupIds") {
			out[sg] = true
		}
	}
	return out
}

// vpcCidrTag marks an endpoint ingress rule whose source is one of the VPC's CIDR blocks
// (infra.VpcCidrTag): in an existing VPC the stack has no VPC resource to read them from.
const vpcCidrTag = "vpc-cidr"

// admitsOnlyItsVpc reports whether a rule's sources are all the VPC's own CIDR blocks: a VPC the
// stack creates is known by its cidrBlock; in an existing VPC a rule says its source is one of the
// VPC's by a vpcCidrTag tag of that same value (infra.Network sets it from the VPC's lookup).
func admitsOnlyItsVpc(s *Stack, in ingress) bool {
	if len(in.sources) == 0 || in.fromSG != "" {
		return false
	}
	created := map[string]bool{}
	for _, vpc := range s.OfType(typeVpc) {
		created[vpc.Str("cidrBlock")] = true
	}
	for _, src := range in.sources {
		own := created[src]
		if len(created) == 0 && in.property == "ingress" {
			own = in.res.Str("tags."+vpcCidrTag) == src
		}
		if !own || src == "" {
			return false
		}
	}
	return true
}
