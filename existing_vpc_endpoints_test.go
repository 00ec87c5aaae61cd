package main

// VPC endpoints and routes in the VPCs a stack deploys into, over every stack file (review A1, A2,
// A7, A8): an existing VPC with and without endpoints of its own, a shared VPC, routes through
// firewalls, Cloud WAN and VPNs, and routes to targets that are gone. Mocks do not run AWS's checks,
// so each test states the rule AWS applies and its source.

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const ingressType = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

// vpcNetwork is the network config of an existing VPC of pulumitest's lookups.
func vpcNetwork(vpc string, public, private, endpoints []string) map[string]any {
	n := map[string]any{"vpcId": vpc, "publicSubnetIds": public, "privateSubnetIds": private}
	if endpoints != nil {
		n["endpoints"] = endpoints
	}
	return n
}

// endpointsVpc: EndpointsVpc's public subnets, and its private ones with a NAT route or without
// any route out.
var (
	endpointsVpcPublic  = []string{"subnet-e0a0000000000000a", "subnet-e0b0000000000000b"}
	endpointsVpcNat     = []string{"subnet-e1a0000000000000a", "subnet-e1b0000000000000b"}
	endpointsVpcNoRoute = []string{"subnet-e2a0000000000000a", "subnet-e2b0000000000000b"}
)

// existingVpcCase is a network of an existing VPC, run on every stack file.
type existingVpcCase struct {
	name    string
	network map[string]any
	plain   map[string]string
}

// existingVpcCases are existing VPCs with and without endpoints of their own, with and without a
// route out of the private subnets.
func existingVpcCases() []existingVpcCase {
	return []existingVpcCase{
		{name: "no-endpoints/nat", network: ownVpc(false)},
		{name: "no-endpoints/nat/listed", network: vpcNetwork(pulumitest.ExistingVpc, ownVpc(false)["publicSubnetIds"].([]string),
			ownVpc(false)["privateSubnetIds"].([]string), []string{"logs", "ssm"})},
		{name: "no-endpoints/closed", network: ownVpc(true), plain: map[string]string{"image": ecrImage}},
		// The VPC's ecr.api, ecr.dkr and logs endpoints are used; ssm is the stack's.
		{name: "own-endpoints/nat", network: vpcNetwork(pulumitest.EndpointsVpc, endpointsVpcPublic, endpointsVpcNat,
			[]string{"ecr.api", "ecr.dkr", "logs", "ssm"})},
		// Closed subnets: the VPC's endpoints cover part of what the tasks need; the stack adds the rest.
		{name: "own-endpoints/closed", network: vpcNetwork(pulumitest.EndpointsVpc, endpointsVpcPublic, endpointsVpcNoRoute,
			[]string{"ecs-agent", "ecs-telemetry", "secretsmanager", "ssmmessages"}), plain: map[string]string{"image": ecrImage}},
	}
}

// theirs are the VPC's endpoints of a service that are not this stack's (by its project and stack
// tags, which the provider puts on everything the stack creates).
func theirs(vpc, service, stack string) []pulumitest.ExistingEndpoint {
	var out []pulumitest.ExistingEndpoint
	for _, ep := range pulumitest.ExistingEndpoints {
		if ep.Vpc == vpc && ep.Service == service && !(ep.Tags["project"] == "ecs-api" && ep.Tags["stack"] == stack) {
			out = append(out, ep)
		}
	}
	return out
}

// endpointsByService are the VPC endpoints the program registered, by configured service name.
func endpointsByService(m *pulumitest.Mocks) map[string]*pulumitest.Resource {
	out := map[string]*pulumitest.Resource{}
	for _, ep := range m.OfType(endpointType) {
		name := ep.Str("serviceName")
		out[name[strings.LastIndex(name, "."+pulumitest.Region+".")+len(pulumitest.Region)+2:]] = ep
	}
	return out
}

// routeTableOfSubnet is the route table pulumitest's lookups give a subnet.
func routeTableOfSubnet(id string) string {
	if pulumitest.ExistingSubnets[id].MainTable {
		return "rtb-main"
	}
	return "rtb-" + strings.TrimPrefix(id, "subnet-")
}

// TestExistingVpcEndpointsAreUsedNotDuplicated: in an existing VPC the stack creates only the
// endpoints the VPC lacks. A second S3 gateway endpoint on a route table fails ("route table rtb-…
// already has a route with destination-prefix-list-id pl-… Error Code: RouteAlreadyExists",
// eksctl#4377), a second interface endpoint with private DNS fails ("private-dns-enabled cannot be
// set because there is already a conflicting DNS domain", terraform-provider-aws#17535); the mocks
// create both without complaint, so the test checks that none is asked for.
func TestExistingVpcEndpointsAreUsedNotDuplicated(t *testing.T) {
	for _, stack := range stackFiles(t) {
		for _, tc := range existingVpcCases() {
			t.Run(stack+"/"+tc.name, func(t *testing.T) {
				v := variant{objects: map[string]map[string]any{"network": tc.network}, plain: tc.plain}
				project, cfg := variantConfig(t, stack, v)
				m, err := pulumitest.Run(project, stack, cfg, program)
				if err != nil {
					t.Fatalf("program failed: %v", err)
				}
				c := loadedConfig(t, stack, v)
				vpc, private := c.Network.Settings.VpcID, c.Network.Settings.PrivateSubnetIDs
				created := endpointsByService(m)

				// S3: the private route tables no other S3 endpoint serves, all of them.
				var served, want []string
				for _, ep := range theirs(vpc, "s3", stack) {
					served = append(served, ep.RouteTables...)
				}
				for _, id := range private {
					if rt := routeTableOfSubnet(id); !slices.Contains(served, rt) && !slices.Contains(want, rt) {
						want = append(want, rt)
					}
				}
				switch s3 := created["s3"]; {
				case len(want) == 0 && s3 != nil:
					t.Errorf("an S3 endpoint on %v, where every private route table has one", s3.Strs("routeTableIds"))
				case len(want) > 0 && (s3 == nil || strings.Join(sorted(s3.Strs("routeTableIds")), ",") != strings.Join(sorted(want), ",")):
					t.Errorf("S3 endpoint %v, want one on exactly %v (the VPC's own serves %v)", s3, want, served)
				}

				// Interface endpoints: none where the VPC has one; every one the tasks need, the VPC's
				// or the stack's.
				need := slices.Clone(c.Network.Settings.Endpoints)
				closed := tc.plain["image"] != ""
				if closed {
					for service := range config.RequiredEndpoints(c) {
						if !slices.Contains(need, service) {
							need = append(need, service)
						}
					}
				}
				for service, ep := range created {
					if service == "s3" {
						continue
					}
					if others := theirs(vpc, service, stack); len(others) > 0 {
						t.Errorf("%s endpoint created, but %s has %s already", service, vpc, others[0].ID)
					}
					if !slices.Contains(need, service) {
						t.Errorf("%s endpoint created, which nothing asked for", service)
					}
					azs := map[string]bool{}
					for _, id := range private {
						azs[pulumitest.ExistingSubnets[id].AZ] = true
					}
					if !ep.Bool("privateDnsEnabled") || ep.Len("subnetIds") != len(azs) {
						t.Errorf("%s endpoint %v: want private DNS in one private subnet per AZ", service, ep.Inputs)
					}
				}
				for _, service := range need {
					if created[service] == nil && len(theirs(vpc, service, stack)) == 0 {
						t.Errorf("the tasks need %s, and neither the VPC nor the stack has an endpoint for it", service)
					}
				}
				// Nothing else of the VPC is created.
				for _, typ := range []string{vpcType, "aws:ec2/natGateway:NatGateway", "aws:ec2/route:Route", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable"} {
					if k := len(m.OfType(typ)); k != 0 {
						t.Errorf("an existing VPC, yet %d %s", k, typ)
					}
				}
			})
		}
	}
}

// TestInterfaceEndpointsAdmitTheWholeVpc: an interface endpoint's private DNS answers for every
// workload in the VPC ("Enable private DNS for the endpoint to enable you to make requests to the
// service using its default DNS hostname", VPC User Guide), so the endpoints' group admits the VPC's
// CIDRs on 443, as AWS's guide and the CDK's InterfaceVpcEndpoint (open by default) do. Admitting
// only the ECS instances cut every other workload of an existing VPC off ECR, Logs, SSM..., and the
// NAT instances off Session Manager (review A2). The instances start after the rules.
func TestInterfaceEndpointsAdmitTheWholeVpc(t *testing.T) {
	cases := []existingVpcCase{
		{name: "created/no-nat", network: map[string]any{"endpoints": noNatEndpoints}, plain: map[string]string{"natGateways": "None", "image": ecrImage}},
		// The NAT instance reaches Session Manager through the ssm* endpoints.
		{name: "created/nat-instance", network: map[string]any{"endpoints": []string{"ssm", "ssmmessages", "ec2messages"}}, plain: map[string]string{"natGateways": "Instance"}},
	}
	for _, tc := range existingVpcCases() {
		if tc.name != "no-endpoints/nat" {
			cases = append(cases, tc)
		}
	}
	for _, stack := range stackFiles(t) {
		for _, tc := range cases {
			t.Run(stack+"/"+tc.name, func(t *testing.T) {
				v := variant{objects: map[string]map[string]any{"network": tc.network}, plain: tc.plain}
				project, cfg := variantConfig(t, stack, v)
				m, err := pulumitest.Run(project, stack, cfg, program)
				if err != nil {
					t.Fatalf("program failed: %v", err)
				}
				c := loadedConfig(t, stack, v)
				sg := m.Named("aws:ec2/securityGroup:SecurityGroup", "network-endpoints-sg")
				if sg == nil {
					t.Fatal("no endpoints security group")
				}
				var cidrs []string
				if c.Network.Existing() {
					cidrs = []string{"10.50.0.0/16"}
					if c.Network.Settings.VpcID == pulumitest.EndpointsVpc {
						cidrs = append(cidrs, "100.64.0.0/16")
					}
				} else {
					cidrs = []string{one(t, m, vpcType).Str("cidrBlock")}
				}
				waits := newGraph(m).waitsFor(m.Named(asgType, "cluster-asg"))
				var admitted []string
				for _, r := range m.OfType(ingressType) {
					if r.Str("securityGroupId") != sg.Out("id") {
						continue
					}
					admitted = append(admitted, fmt.Sprintf("%s%s %s/%v-%v", r.Str("cidrIpv4"), r.Str("referencedSecurityGroupId"), r.Str("ipProtocol"), r.Num("fromPort"), r.Num("toPort")))
					if !waits[r.URN] {
						t.Errorf("the instances can start before %s admits them", r.Name)
					}
				}
				var want []string
				for _, cidr := range cidrs {
					want = append(want, cidr+" tcp/443-443")
				}
				if strings.Join(sorted(admitted), ",") != strings.Join(sorted(want), ",") {
					t.Errorf("the endpoints admit %v, want the VPC's %v", admitted, want)
				}
				// The NAT instances sit in the public subnets, which awsx cuts from the VPC's CIDR.
				if len(natGroups(m)) > 0 && !slices.Contains(cidrs, c.Network.CIDR) {
					t.Errorf("the endpoints admit %v, not the VPC %s the NAT instances are in", cidrs, c.Network.CIDR)
				}
			})
		}
	}
}

// TestExistingVpcEndpointsThatWouldCollideAreRefused: what AWS would refuse is refused before any
// resource is registered, naming the key, the stack and the endpoint.
func TestExistingVpcEndpointsThatWouldCollideAreRefused(t *testing.T) {
	for _, stack := range stackFiles(t) {
		for _, tc := range []struct {
			name    string
			network map[string]any
			plain   map[string]string
			want    []string
		}{
			// One with private DNS beside the VPC's without would take the name over for the VPC.
			{"an endpoint without private DNS", vpcNetwork(pulumitest.EndpointsVpc, endpointsVpcPublic, endpointsVpcNat, []string{"sts"}), nil,
				[]string{"network.endpoints: sts:", "vpce-05e5000000000000a", "without private DNS"}},
			// Which of two has private DNS the data source cannot say.
			{"two endpoints of a service", vpcNetwork(pulumitest.EndpointsVpc, endpointsVpcPublic, endpointsVpcNat, []string{"kms"}), nil,
				[]string{"network.endpoints: kms:", "more than one"}},
			// A participant of a shared VPC is no longer refused for the owner's endpoints (review R1):
			// TestSharedVpcParticipantCountsOnTheOwnersEndpointsAndTargets.
			// Closed subnets: what the VPC lacks of what the tasks need must be listed.
			{"closed subnets, endpoints missing", vpcNetwork(pulumitest.EndpointsVpc, endpointsVpcPublic, endpointsVpcNoRoute, nil), map[string]string{"image": ecrImage},
				[]string{"network.privateSubnetIds: subnet-e2a0000000000000a has no route to the internet", "network.endpoints lacks ecs-agent", "for which " + pulumitest.EndpointsVpc + " has no endpoint with private DNS either"}},
		} {
			t.Run(stack+"/"+tc.name, func(t *testing.T) {
				project, cfg := variantConfig(t, stack, variant{objects: map[string]map[string]any{"network": tc.network}, plain: tc.plain})
				m, err := pulumitest.Run(project, stack, cfg, program)
				refusedBeforeAnything(t, m, err, append(tc.want, fmt.Sprintf("the existing network of stack %q", stack))...)
			})
		}
	}
}

// TestSharedVpcParticipantCreatesNoEndpoints: a participant may not create endpoints (re:Post,
// vpc-interface-endpoint-creation-errors: "This operation does not support shared VPCs"), so with a
// NAT route it creates none, not even the S3 gateway endpoint, which only saves NAT charges.
func TestSharedVpcParticipantCreatesNoEndpoints(t *testing.T) {
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			network := vpcNetwork(pulumitest.SharedVpc, []string{"subnet-a0a0000000000000a", "subnet-a0b0000000000000b"},
				[]string{"subnet-a1a0000000000000a", "subnet-a1b0000000000000b"}, nil)
			project, cfg := variantConfig(t, stack, variant{objects: map[string]map[string]any{"network": network}})
			m, err := pulumitest.Run(project, stack, cfg, program)
			if err != nil {
				t.Fatalf("program failed: %v", err)
			}
			for _, ep := range m.OfType(endpointType) {
				t.Errorf("a participant of %s creates %s (%s)", pulumitest.SharedVpc, ep.Name, ep.Str("serviceName"))
			}
		})
	}
}

// TestSharedVpcParticipantCountsOnTheOwnersEndpointsAndTargets: review R1. A participant cannot see
// the owner's endpoints, NAT gateways or internet gateway through Describe* ("Participants cannot
// view, modify, or delete resources that belong to other participants or the VPC owner", VPC User
// Guide), and may not create endpoints. The deploy refused a shared VPC for endpoints it could not
// see and for "gone" targets it only could not find; now it counts on the owner's endpoints, creates
// none, takes an unfound owner target as unknown (a warning), and skips the internet gateway check.
func TestSharedVpcParticipantCountsOnTheOwnersEndpointsAndTargets(t *testing.T) {
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			// Public: behind the owner's firewall endpoint, and to the owner's internet gateway beside a
			// blackhole route; private: the owner's NAT gateway beside a blackhole route, and no way out.
			network := vpcNetwork(pulumitest.SharedVpc, []string{"subnet-a5a0000000000000a", "subnet-a3b0000000000000b"},
				[]string{"subnet-a4a0000000000000a", "subnet-a2b0000000000000b"}, noNatEndpoints)
			project, cfg := variantConfig(t, stack, variant{objects: map[string]map[string]any{"network": network},
				plain: map[string]string{"image": ecrImage}})
			m, err := pulumitest.Run(project, stack, cfg, program)
			if err != nil {
				t.Fatalf("a shared VPC whose owner's resources the participant cannot see is refused: %v", err)
			}
			for _, ep := range m.OfType(endpointType) {
				t.Errorf("a participant of %s creates %s (%s)", pulumitest.SharedVpc, ep.Name, ep.Str("serviceName"))
			}
			if got := one(t, m, "aws:lb/loadBalancer:LoadBalancer").Strs("subnets"); len(got) != 2 {
				t.Errorf("load balancer in %v", got)
			}
		})
	}
}

// TestExistingVpcRoutesAreClassifiedAsAWSRoutesThem (review A8). The route table lookup reports a
// Gateway Load Balancer endpoint (AWS Network Firewall's) as vpcEndpointId and Cloud WAN as
// coreNetworkArn, leaves out routes propagated from a VPN, and reports no route state
// (terraform-provider-aws vpc_route_table_data_source.go); a route whose target is gone stays, as a
// blackhole ("the route's target isn't available", EC2 API Reference, Route).
func TestExistingVpcRoutesAreClassifiedAsAWSRoutesThem(t *testing.T) {
	public := []string{"subnet-0a00000000000000a", "subnet-0b00000000000000b", "subnet-0c00000000000000c"}
	for _, stack := range stackFiles(t) {
		for _, tc := range []struct {
			name            string
			public, private []string
			want            []string // nil: the deploy goes ahead
		}{
			// "Change the customer subnet route table so that it directs internet-bound traffic to
			// the firewall endpoint" (Network Firewall Developer Guide).
			{"public subnets behind a firewall", []string{"subnet-5a00000000000000a", "subnet-5b00000000000000b"}, []string{"subnet-1a00000000000000a", "subnet-1b00000000000000b"}, nil},
			{"out through Cloud WAN and a VPN", public, []string{"subnet-6a00000000000000a", "subnet-6b00000000000000b"}, nil},
			{"out through a firewall; a stale blackhole route elsewhere", public, []string{"subnet-8a00000000000000a", "subnet-7b00000000000000b"}, nil},
			{"a NAT gateway that is gone", public, []string{"subnet-7a00000000000000a", "subnet-1b00000000000000b"},
				[]string{"network.privateSubnetIds: subnet-7a00000000000000a: its route table rtb-7a00000000000000a sends 0.0.0.0/0 to " + pulumitest.GoneNatGateway + ", which is gone"}},
			// "Edge to edge routing through a gateway or private connection" is unsupported (VPC
			// Peering Guide, "VPC peering limitations").
			{"out through a peering connection", public, []string{"subnet-1a00000000000000a", "subnet-8b00000000000000b"},
				[]string{"network.privateSubnetIds: subnet-8b00000000000000b routes 0.0.0.0/0 to the peering connection pcx-0123456789abcdef0"}},
			{"a detached internet gateway", []string{"subnet-9a00000000000000a", "subnet-0b00000000000000b"}, []string{"subnet-1a00000000000000a", "subnet-1b00000000000000b"},
				[]string{"network.publicSubnetIds: subnet-9a00000000000000a: its route table rtb-9a00000000000000a sends 0.0.0.0/0 to " + pulumitest.GoneInternetGateway + ", which is gone"}},
			// Review R3: a table-level filter cannot say which route is the blackhole. A transit gateway
			// is alive when the VPC has an available attachment to it (DescribeTransitGatewayVpcAttachments
			// with vpc-id, transit-gateway-id, state=available), gone when it has none; Cloud WAN, VPN
			// and local gateway routes cannot be asked, so an unrelated blackhole route only warns.
			{"a blackhole route beside a transit gateway the VPC is attached to", public, []string{"subnet-1a00000000000000a", "subnet-9b00000000000000b"}, nil},
			{"a transit gateway the VPC is no longer attached to", public, []string{"subnet-1a00000000000000a", "subnet-9c00000000000000c"},
				[]string{"network.privateSubnetIds: subnet-9c00000000000000c: its route table rtb-9c00000000000000c sends 0.0.0.0/0 to " + pulumitest.GoneTransitGateway + ", which is gone"}},
			{"a blackhole route beside Cloud WAN", public, []string{"subnet-1a00000000000000a", "subnet-6c00000000000000c"}, nil},
			// Only "no such table" means the main table; a failed lookup is an error, not its routes.
			{"a route table that cannot be read", public, []string{"subnet-1e00000000000000e", "subnet-1b00000000000000b"},
				[]string{"network.privateSubnetIds: subnet-1e00000000000000e: its route table cannot be read", "RequestLimitExceeded"}},
		} {
			t.Run(stack+"/"+tc.name, func(t *testing.T) {
				network := vpcNetwork(pulumitest.ExistingVpc, tc.public, tc.private, nil)
				project, cfg := variantConfig(t, stack, variant{objects: map[string]map[string]any{"network": network}})
				m, err := pulumitest.Run(project, stack, cfg, program)
				if tc.want == nil {
					if err != nil {
						t.Fatalf("a network AWS routes out is refused: %v", err)
					}
					if got := one(t, m, "aws:lb/loadBalancer:LoadBalancer").Strs("subnets"); strings.Join(got, ",") != strings.Join(tc.public, ",") {
						t.Errorf("load balancer in %v, want %v", got, tc.public)
					}
					return
				}
				refusedBeforeAnything(t, m, err, append(tc.want, fmt.Sprintf("the existing network of stack %q", stack))...)
			})
		}
	}
}

// TestEveryStackInChinaUsesTheRegionsEndpointNames: in China, ECR's endpoint services are
// cn.com.amazonaws.<region>.ecr.api/.dkr, Logs' and S3's com.amazonaws.<region>... ("InvalidServiceName:
// The Vpc Endpoint Service 'com.amazonaws.cn-north-1.ecr.dkr' does not exist",
// terraform-provider-aws#17640); the program asks the region for each name (review A7).
func TestEveryStackInChinaUsesTheRegionsEndpointNames(t *testing.T) {
	const chinaImage = "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/ecs-api:1.4.2"
	for _, stack := range stackFiles(t) {
		for _, tc := range []existingVpcCase{
			{name: "created", network: map[string]any{"endpoints": noNatEndpoints}, plain: map[string]string{"natGateways": "None", "image": chinaImage}},
			{name: "existing", network: ownVpc(true), plain: map[string]string{"image": chinaImage}},
		} {
			t.Run(stack+"/"+tc.name, func(t *testing.T) {
				plain := map[string]string{"aws:region": "cn-north-1"}
				for k, v := range tc.plain {
					plain[k] = v
				}
				project, cfg := variantConfig(t, stack, variant{objects: map[string]map[string]any{"network": tc.network}})
				for k, v := range plain {
					if !strings.Contains(k, ":") {
						k = project + ":" + k
					}
					cfg[k] = v
				}
				m, err := pulumitest.Run(project, stack, cfg, program)
				if err != nil {
					t.Fatalf("program failed: %v", err)
				}
				want := map[string]string{"s3": "com.amazonaws.cn-north-1.s3", "logs": "com.amazonaws.cn-north-1.logs",
					"ecr-api": "cn.com.amazonaws.cn-north-1.ecr.api", "ecr-dkr": "cn.com.amazonaws.cn-north-1.ecr.dkr"}
				for suffix, name := range want {
					ep := m.Named(endpointType, "network-"+suffix)
					if ep == nil || ep.Str("serviceName") != name {
						t.Errorf("network-%s endpoint %v, want service %s", suffix, ep, name)
					}
				}
			})
		}
	}
}

// TestExistingVpcPublicSubnetsFitTheLoadBalancer: review R7. The load balancer needs, in each of its
// subnets, "a CIDR block with at least a /27 bitmask ... and at least 8 free IP addresses" (ELB User
// Guide, "Subnets for your load balancer"); a /28 public subnet was accepted and the deploy failed
// at CreateLoadBalancer. Now the check refuses it first, naming the key and the subnet.
func TestExistingVpcPublicSubnetsFitTheLoadBalancer(t *testing.T) {
	const small = "subnet-0f00000000000000f" // a /28 in us-east-1b
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			network := vpcNetwork(pulumitest.ExistingVpc, []string{"subnet-0a00000000000000a", small},
				[]string{"subnet-1a00000000000000a", "subnet-1b00000000000000b"}, nil)
			project, cfg := variantConfig(t, stack, variant{objects: map[string]map[string]any{"network": network}})
			m, err := pulumitest.Run(project, stack, cfg, program)
			refusedBeforeAnything(t, m, err, "network.publicSubnetIds: "+small+" (10.50.240.0/28, 11 free IP addresses) is too small for the load balancer", "/27")
			if strings.Contains(err.Error(), "subnet-0a00000000000000a (") {
				t.Errorf("a /24 public subnet refused too: %v", err)
			}
		})
	}
}
