package infra

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2transitgateway"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// ExistingNetwork is an existing VPC as the deploy found it, and the endpoints the stack adds to it.
type ExistingNetwork struct {
	VpcID string
	// CidrBlocks are the VPC's IPv4 CIDRs: the private DNS of the endpoints the stack creates answers
	// for all of them, so all of them are admitted to the endpoints.
	CidrBlocks       []string
	PublicSubnetIDs  []string
	PrivateSubnetIDs []string
	// PrivateRouteTableIDs are the private subnets' route tables, each once.
	PrivateRouteTableIDs []string
	// OnePrivateSubnetPerAZ are where interface endpoints go: an endpoint takes one subnet per AZ.
	OnePrivateSubnetPerAZ []string
	// S3 is the S3 gateway endpoint the stack creates: on the private route tables no other S3
	// endpoint serves yet. Nil when every one is served, or when the account may not create one.
	S3 *GatewayEndpoint
	// S3Served are the private route tables whose S3 route is the VPC's own endpoint's.
	S3Served []string
	// Interface are the interface endpoints the stack creates: those it needs that the VPC lacks.
	Interface []InterfaceEndpoint
	// Reused are the VPC's own interface endpoints the tasks use instead, by service.
	Reused map[string]string
}

// GatewayEndpoint is the S3 gateway endpoint the stack creates in an existing VPC.
type GatewayEndpoint struct {
	ServiceName   string
	RouteTableIDs []string
}

// existingSubnet is what the deploy learned of one configured subnet.
type existingSubnet struct {
	id, az, routeTable string
	out                defaultRoute
	cidr               string
	free               int
}

// CheckExistingNetwork reads an existing VPC's subnets, routes and endpoints through AWS's APIs
// before anything is created, and refuses a network the stack cannot run in, naming each subnet,
// route table or endpoint at fault:
//   - every subnet in the VPC; public and private subnets each in at least two availability zones,
//     and a public subnet in every AZ of a private one (the load balancer routes only to targets in
//     its enabled AZs: "Target groups for your Application Load Balancers"); public subnets of a /27
//     or larger with 8 free addresses, the load balancer's minimum (review R7);
//   - public subnets routed to an internet gateway, or to a firewall endpoint in a VPC that has one;
//     private subnets routed out (NAT, firewall, transit gateway, Cloud WAN, VPN), or the VPC
//     endpoints covering what the tasks call; no 0.0.0.0/0 route to a target that is gone (a table's
//     blackhole route it cannot place is a warning: review R3);
//   - the endpoints: the VPC's own are used as they are, the stack creates only what is missing, and
//     refuses what would collide with one of the VPC's (review A1); in a shared VPC they are the
//     owner's, unseen, and the stack creates none (review R1);
//   - DNS on when interface endpoints need private DNS.
func CheckExistingNetwork(ctx *pulumi.Context, c *config.Config, opts ...pulumi.InvokeOption) (*ExistingNetwork, error) {
	s := c.Network.Settings
	vpc, err := awsec2.LookupVpc(ctx, &awsec2.LookupVpcArgs{Id: pulumi.StringRef(s.VpcID)}, opts...)
	if err != nil {
		return nil, fmt.Errorf("network.vpcId: %s cannot be read: %w", s.VpcID, err)
	}
	caller, err := aws.GetCallerIdentity(ctx, nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("network.vpcId: the deploying account cannot be read: %w", err)
	}
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	// Interface endpoints answer through private DNS, which needs the VPC's DNS resolution and DNS
	// hostnames both on (VPC User Guide, "DNS attributes for your VPC").
	dnsOff := !vpc.EnableDnsSupport || !vpc.EnableDnsHostnames
	noDNS := func() {
		fail("network.vpcId", "%s has enableDnsSupport %v and enableDnsHostnames %v; the interface endpoints' private DNS needs both", s.VpcID, vpc.EnableDnsSupport, vpc.EnableDnsHostnames)
	}
	if len(s.Endpoints) > 0 && dnsOff {
		noDNS()
	}
	// A participant of a shared VPC sees the subnets and route tables shared with it, not the
	// owner's endpoints, NAT gateways or internet gateway: "Participants cannot view, modify, or
	// delete resources that belong to other participants or the VPC owner" (VPC User Guide, "Share
	// your VPC with other accounts"). What it cannot see is unknown to it, not gone (review R1).
	shared := vpc.OwnerId != "" && vpc.OwnerId != caller.AccountId
	routes := &routeReader{ctx: ctx, vpcID: s.VpcID, opts: opts, tables: map[string]defaultRoute{}, shared: shared}
	read := func(key string, ids []string) []existingSubnet {
		var out []existingSubnet
		for _, id := range ids {
			sub, err := awsec2.LookupSubnet(ctx, &awsec2.LookupSubnetArgs{Id: pulumi.StringRef(id)}, opts...)
			if err != nil {
				fail(key, "%s cannot be read: %v", id, err)
				continue
			}
			if sub.VpcId != s.VpcID {
				fail(key, "%s is in %s, not in %s", id, sub.VpcId, s.VpcID)
				continue
			}
			out0, rt, err := routes.of(id)
			if err != nil {
				fail(key, "%s: its route table cannot be read: %v", id, err)
				continue
			}
			out = append(out, existingSubnet{id: id, az: sub.AvailabilityZone, routeTable: rt, out: out0,
				cidr: sub.CidrBlock, free: sub.AvailableIpAddressCount})
		}
		return out
	}
	public := read("network.publicSubnetIds", s.PublicSubnetIDs)
	private := read("network.privateSubnetIds", s.PrivateSubnetIDs)

	publicAZs, privateAZs := map[string]bool{}, map[string]string{}
	// A table-level filter cannot say which route is the blackhole, and a transit gateway's (with no
	// attachment of this VPC's to ask about), Cloud WAN's, a VPN's, a local gateway's or an owner's
	// target cannot be asked: an unrelated stale route must not block the deploy, so this warns
	// (review R3).
	unsure := func(key string, sub existingSubnet) {
		_ = ctx.Log.Warn(fmt.Sprintf("%s: %s: its route table %s has a route in state blackhole (its target is gone), and the deploy cannot tell whether it is the 0.0.0.0/0 route to %s; going ahead. If the tasks cannot reach AWS, look at aws ec2 describe-route-tables --route-table-ids %s", key, sub.id, sub.routeTable, sub.out, sub.routeTable), nil)
	}
	for _, sub := range public {
		publicAZs[sub.az] = true
		// "each subnet for your load balancer has a CIDR block with at least a /27 bitmask ... and
		// has at least 8 free IP addresses" (ELB User Guide, "Subnets for your load balancer"): the
		// load balancer's nodes scale out into them, and CreateLoadBalancer fails without them.
		// The size is refused; few free addresses only warn, since a subnet that already holds this
		// stack's load balancer may be full by its own nodes and a redeploy must not be refused.
		if bits, ok := prefixBits(sub.cidr); ok && bits > 27 {
			fail("network.publicSubnetIds", "%s (%s, %d free IP addresses) is too small for the load balancer, which needs a /27 or larger subnet with at least 8 free IP addresses in each AZ (ELB User Guide, \"Subnets for your load balancer\")", sub.id, sub.cidr, sub.free)
		} else if sub.free < 8 {
			_ = ctx.Log.Warn(fmt.Sprintf("network.publicSubnetIds: %s has %d free IP addresses; the load balancer needs at least 8 in each AZ to scale (ELB User Guide, \"Subnets for your load balancer\")", sub.id, sub.free), nil)
		}
		switch {
		case sub.out.dead:
			fail("network.publicSubnetIds", "%s: its route table %s sends 0.0.0.0/0 to %s, which is gone (the route is a blackhole): the load balancer would not be reachable", sub.id, sub.routeTable, sub.out)
		case sub.out.unsure:
			unsure("network.publicSubnetIds", sub)
		case sub.out.kind == viaInternetGateway:
		case sub.out.kind == viaFirewall:
			// AWS Network Firewall's or a Gateway Load Balancer's endpoint inspects the traffic on its
			// way to the internet gateway ("Change the customer subnet route table so that it directs
			// internet-bound traffic to the firewall endpoint", Network Firewall Developer Guide).
			// A participant cannot see the owner's internet gateway: the owner's to provide.
			if shared {
				break
			}
			if igw, err := routes.internetGateway(); err != nil {
				fail("network.vpcId", "its internet gateway cannot be read: %v", err)
			} else if !igw {
				fail("network.publicSubnetIds", "%s routes 0.0.0.0/0 to the firewall endpoint %s, but %s has no internet gateway: the load balancer would not be reachable", sub.id, sub.out, s.VpcID)
			}
		default:
			fail("network.publicSubnetIds", "%s does not route 0.0.0.0/0 to an internet gateway (its route table %s sends it to %s): the load balancer would not be reachable", sub.id, sub.routeTable, sub.out)
		}
	}
	// Private subnets with no way out reach AWS through endpoints only.
	var closed []existingSubnet
	for _, sub := range private {
		if _, seen := privateAZs[sub.az]; !seen {
			privateAZs[sub.az] = sub.id
		}
		if !publicAZs[sub.az] && len(public) > 0 {
			fail("network.privateSubnetIds", "%s is in %s, where no public subnet is: the load balancer would not route to its tasks", sub.id, sub.az)
		}
		switch {
		case sub.out.dead:
			fail("network.privateSubnetIds", "%s: its route table %s sends 0.0.0.0/0 to %s, which is gone (the route is a blackhole): the tasks would reach neither AWS nor the registries", sub.id, sub.routeTable, sub.out)
		case sub.out.unsure:
			unsure("network.privateSubnetIds", sub)
		case sub.out.kind == viaInternetGateway:
			fail("network.privateSubnetIds", "%s routes 0.0.0.0/0 to an internet gateway: it is a public subnet", sub.id)
		case sub.out.kind == viaPeering:
			// VPC peering does not do "Edge to edge routing through a gateway or private connection"
			// (VPC Peering Guide, "VPC peering limitations"): the peer's NAT or gateway is no way out.
			fail("network.privateSubnetIds", "%s routes 0.0.0.0/0 to the peering connection %s: a peered VPC's NAT or internet gateway does not carry another VPC's traffic out", sub.id, sub.out)
		case sub.out.kind == viaOther:
			fail("network.privateSubnetIds", "%s routes 0.0.0.0/0 to %s, which is not a way out the stack supports (NAT, firewall endpoint, transit gateway, Cloud WAN, VPN)", sub.id, sub.out)
		case sub.out.kind == noRoute:
			closed = append(closed, sub)
		}
	}
	if len(publicAZs) < 2 {
		fail("network.publicSubnetIds", "span %d availability zone(s); the load balancer needs two", len(publicAZs))
	}
	if len(privateAZs) < 2 {
		fail("network.privateSubnetIds", "span %d availability zone(s); the instances need two to survive one's loss", len(privateAZs))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the existing network of stack %q:\n%w", ctx.Stack(), err)
	}

	ex := &ExistingNetwork{VpcID: s.VpcID, CidrBlocks: vpcCidrs(vpc), PublicSubnetIDs: s.PublicSubnetIDs, PrivateSubnetIDs: s.PrivateSubnetIDs}
	tables := map[string]bool{}
	for _, sub := range private {
		if !tables[sub.routeTable] {
			ex.PrivateRouteTableIDs = append(ex.PrivateRouteTableIDs, sub.routeTable)
		}
		tables[sub.routeTable] = true
	}
	for _, az := range slices.Sorted(maps.Keys(privateAZs)) {
		ex.OnePrivateSubnetPerAZ = append(ex.OnePrivateSubnetPerAZ, privateAZs[az])
	}

	check := &endpointCheck{ctx: ctx, c: c, opts: opts, ex: ex, fail: fail,
		// A participant of a shared VPC may not create endpoints in it: "You can't create Amazon VPC
		// interface endpoints from a participant account" (re:Post, vpc-interface-endpoint-creation-errors).
		shared: shared, owner: vpc.OwnerId}
	check.plan(closed)
	if len(s.Endpoints) == 0 && dnsOff && len(ex.Reused)+len(ex.Interface) > 0 {
		noDNS()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the existing network of stack %q:\n%w", ctx.Stack(), err)
	}
	for _, service := range slices.Sorted(maps.Keys(ex.Reused)) {
		_ = ctx.Log.Info(fmt.Sprintf("network: the tasks use %s's own %s endpoint %s; the stack creates none", s.VpcID, service, ex.Reused[service]), nil)
	}
	if len(ex.S3Served) > 0 {
		_ = ctx.Log.Info(fmt.Sprintf("network: %s already route S3 through an endpoint of %s's; the stack's S3 endpoint leaves them alone", strings.Join(ex.S3Served, ", "), s.VpcID), nil)
	}
	return ex, nil
}

// routeKind is how a route table's 0.0.0.0/0 route leaves the VPC.
type routeKind int

const (
	noRoute            routeKind = iota
	viaInternetGateway           // igw-
	viaNat                       // a NAT gateway, a NAT instance or an appliance's network interface
	viaFirewall                  // a Gateway Load Balancer endpoint: AWS Network Firewall's, or an appliance's
	viaTransit                   // a transit gateway, Cloud WAN, a virtual private gateway, an Outpost's local gateway
	viaHidden                    // a route the lookup does not report: propagated from a VPN, or to another account
	viaPeering                   // a VPC peering connection: no way out
	viaOther                     // a carrier gateway or anything else
)

// defaultRoute is where a route table sends 0.0.0.0/0, and whether that target still works.
type defaultRoute struct {
	target string
	kind   routeKind
	// dead: the route is a blackhole, its target gone; unsure: the table has a blackhole route and
	// the deploy cannot tell whether it is this one.
	dead, unsure bool
}

func (d defaultRoute) String() string {
	if d.target == "" {
		return "nowhere"
	}
	return d.target
}

// targetOf classifies a route by its target, as the provider reports it: a Gateway Load Balancer
// endpoint's vpce- comes back as VpcEndpointId, not GatewayId, and Cloud WAN as CoreNetworkArn
// (terraform-provider-aws vpc_route_table_data_source.go: `if strings.HasPrefix(*r.GatewayId,
// "vpce-") { m["vpc_endpoint_id"] = ... }`).
func targetOf(r awsec2.GetRouteTableRoute) defaultRoute {
	switch {
	case strings.HasPrefix(r.GatewayId, "igw-"):
		return defaultRoute{target: r.GatewayId, kind: viaInternetGateway}
	case strings.HasPrefix(r.GatewayId, "vgw-"):
		return defaultRoute{target: r.GatewayId, kind: viaTransit}
	case r.NatGatewayId != "":
		return defaultRoute{target: r.NatGatewayId, kind: viaNat}
	case r.InstanceId != "":
		return defaultRoute{target: r.InstanceId, kind: viaNat}
	case r.NetworkInterfaceId != "":
		return defaultRoute{target: r.NetworkInterfaceId, kind: viaNat}
	case r.VpcEndpointId != "":
		return defaultRoute{target: r.VpcEndpointId, kind: viaFirewall}
	case r.TransitGatewayId != "":
		return defaultRoute{target: r.TransitGatewayId, kind: viaTransit}
	case r.CoreNetworkArn != "":
		return defaultRoute{target: r.CoreNetworkArn, kind: viaTransit}
	case r.LocalGatewayId != "":
		return defaultRoute{target: r.LocalGatewayId, kind: viaTransit}
	case r.VpcPeeringConnectionId != "":
		return defaultRoute{target: r.VpcPeeringConnectionId, kind: viaPeering}
	}
	return defaultRoute{target: cmpOr(r.GatewayId, r.CarrierGatewayId, r.EgressOnlyGatewayId, "an unknown target"), kind: viaOther}
}

// prefixBits is an IPv4 CIDR's prefix length.
func prefixBits(cidr string) (int, bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return 0, false
	}
	return p.Bits(), true
}

func cmpOr(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// routeReader reads each route table of the configured subnets once.
type routeReader struct {
	ctx    *pulumi.Context
	vpcID  string
	opts   []pulumi.InvokeOption
	tables map[string]defaultRoute
	igw    *bool
	// shared: the VPC is another account's, whose targets the deploy cannot see.
	shared bool
}

// of is the route table a subnet uses and where that table sends 0.0.0.0/0.
func (r *routeReader) of(subnetID string) (defaultRoute, string, error) {
	rt, err := routeTableOf(r.ctx, r.vpcID, subnetID, r.opts...)
	if err != nil {
		return defaultRoute{}, "", err
	}
	id := rt.RouteTableId
	if d, ok := r.tables[id]; ok {
		return d, id, nil
	}
	d, err := r.defaultRoute(rt)
	if err != nil {
		return defaultRoute{}, id, err
	}
	r.tables[id] = d
	return d, id, nil
}

// defaultRoute finds a table's 0.0.0.0/0 route, including those the lookup leaves out, and whether
// its target is gone.
func (r *routeReader) defaultRoute(rt *awsec2.LookupRouteTableResult) (defaultRoute, error) {
	var d defaultRoute
	for _, route := range rt.Routes {
		if route.CidrBlock == "0.0.0.0/0" {
			d = targetOf(route)
		}
	}
	if d.kind == noRoute {
		// The lookup drops routes propagated from a virtual private gateway and routes to other
		// accounts' network interfaces (vpc_route_table_data_source.go: `if r.Origin ==
		// RouteOriginEnableVgwRoutePropagation { continue }`, "Skip cross-account ENIs");
		// DescribeRouteTables' filters still see them.
		hidden, err := r.has(rt.RouteTableId, "route.destination-cidr-block", "0.0.0.0/0")
		if err != nil || !hidden {
			return d, err
		}
		d = defaultRoute{target: "a route the lookup does not show (propagated from a VPN, or to another account's network interface)", kind: viaHidden}
	}
	// A route whose target is gone stays, in state blackhole ("the route's target isn't available",
	// EC2 API Reference, Route), and the lookup does not report states. The route.* filters hold for
	// the table, not for one route (a table with any active route matches route.state=active), so
	// this asks only whether the table has a blackhole route, then asks the target itself.
	blackhole, err := r.has(rt.RouteTableId, "route.state", "blackhole")
	if err != nil || !blackhole {
		return d, err
	}
	dead, known, err := r.gone(d.target)
	d.dead, d.unsure = dead, !known
	return d, err
}

// has reports whether a route table matches a DescribeRouteTables filter.
func (r *routeReader) has(tableID, filter, value string) (bool, error) {
	res, err := awsec2.GetRouteTables(r.ctx, &awsec2.GetRouteTablesArgs{
		VpcId: pulumi.StringRef(r.vpcID),
		Filters: []awsec2.GetRouteTablesFilter{
			{Name: "route-table-id", Values: []string{tableID}},
			{Name: filter, Values: []string{value}},
		},
	}, r.opts...)
	if err != nil {
		return false, fmt.Errorf("%s with %s=%s: %w", tableID, filter, value, err)
	}
	return slices.Contains(res.Ids, tableID), nil
}

// gone asks a route's target whether it still works: a NAT gateway available, an instance running,
// a network interface attached, an endpoint available, an internet gateway attached to the VPC, a
// transit gateway with an available attachment of the VPC's. known is false for targets that cannot
// be asked (Cloud WAN, virtual private and local gateways, VPN routes), and for those a participant
// of a shared VPC cannot see (the owner's).
func (r *routeReader) gone(target string) (dead, known bool, err error) {
	ctx, opts := r.ctx, r.opts
	// "No such target": gone, but for a participant only unseen.
	notFound := func(err error) (bool, bool, error) {
		if !isNoMatch(err) {
			return false, true, err
		}
		return !r.shared, !r.shared, nil
	}
	switch {
	case strings.HasPrefix(target, "tgw-"):
		// A route to a transit gateway works through the VPC's attachment to it.
		_, err := ec2transitgateway.LookupVpcAttachment(ctx, &ec2transitgateway.LookupVpcAttachmentArgs{
			Filters: []ec2transitgateway.GetVpcAttachmentFilter{
				{Name: "vpc-id", Values: []string{r.vpcID}},
				{Name: "transit-gateway-id", Values: []string{target}},
				{Name: "state", Values: []string{"available"}},
			},
		}, opts...)
		if err != nil {
			return notFound(err)
		}
		return false, true, nil
	case strings.HasPrefix(target, "nat-"):
		gw, err := awsec2.LookupNatGateway(ctx, &awsec2.LookupNatGatewayArgs{Id: pulumi.StringRef(target)}, opts...)
		if err != nil {
			return notFound(err)
		}
		return gw.State != "available", true, nil
	case strings.HasPrefix(target, "i-"):
		in, err := awsec2.LookupInstance(ctx, &awsec2.LookupInstanceArgs{InstanceId: pulumi.StringRef(target)}, opts...)
		if err != nil {
			return notFound(err)
		}
		return in.InstanceState != "running" && in.InstanceState != "pending", true, nil
	case strings.HasPrefix(target, "eni-"):
		eni, err := awsec2.LookupNetworkInterface(ctx, &awsec2.LookupNetworkInterfaceArgs{Id: pulumi.StringRef(target)}, opts...)
		if err != nil {
			return notFound(err)
		}
		return len(eni.Attachments) == 0, true, nil
	case strings.HasPrefix(target, "vpce-"):
		ep, err := awsec2.LookupVpcEndpoint(ctx, &awsec2.LookupVpcEndpointArgs{Id: pulumi.StringRef(target)}, opts...)
		if err != nil {
			return notFound(err)
		}
		return ep.State != "available", true, nil
	case strings.HasPrefix(target, "igw-"):
		igw, err := awsec2.LookupInternetGateway(ctx, &awsec2.LookupInternetGatewayArgs{InternetGatewayId: pulumi.StringRef(target)}, opts...)
		if err != nil {
			return notFound(err)
		}
		return !attachedTo(igw.Attachments, r.vpcID), true, nil
	}
	return false, false, nil
}

// attachedTo reports whether an internet gateway is attached to the VPC ("available" when attached,
// DescribeInternetGateways).
func attachedTo(attachments []awsec2.GetInternetGatewayAttachmentType, vpcID string) bool {
	for _, a := range attachments {
		if a.VpcId == vpcID && (a.State == "available" || a.State == "attached") {
			return true
		}
	}
	return false
}

// internetGateway reports whether an internet gateway is attached to the VPC: behind a firewall
// endpoint, the public subnets' traffic still leaves through it, and an internet-facing load
// balancer needs one.
func (r *routeReader) internetGateway() (bool, error) {
	if r.igw == nil {
		igw, err := awsec2.LookupInternetGateway(r.ctx, &awsec2.LookupInternetGatewayArgs{
			Filters: []awsec2.GetInternetGatewayFilter{{Name: "attachment.vpc-id", Values: []string{r.vpcID}}},
		}, r.opts...)
		if err != nil && !isNoMatch(err) {
			return false, err
		}
		found := err == nil && attachedTo(igw.Attachments, r.vpcID)
		r.igw = &found
	}
	return *r.igw, nil
}

// vpcCidrs are the VPC's IPv4 CIDRs: its primary block and the blocks associated since.
func vpcCidrs(vpc *awsec2.LookupVpcResult) []string {
	out := []string{vpc.CidrBlock}
	for _, a := range vpc.CidrBlockAssociations {
		switch a.State {
		case "disassociating", "disassociated", "failing", "failed":
			continue
		}
		if a.CidrBlock != "" && !slices.Contains(out, a.CidrBlock) {
			out = append(out, a.CidrBlock)
		}
	}
	return out
}

// endpointCheck decides, service by service, whether the stack uses one of the VPC's endpoints,
// creates its own, or must refuse.
type endpointCheck struct {
	ctx    *pulumi.Context
	c      *config.Config
	opts   []pulumi.InvokeOption
	ex     *ExistingNetwork
	fail   func(key, format string, args ...any)
	shared bool
	owner  string
}

// liveEndpointStates are the states of an endpoint that holds its routes or DNS names
// (DescribeVpcEndpoints: "vpc-endpoint-state - The state of the endpoint (pendingAcceptance |
// pending | available | deleting | deleted | rejected | failed)").
var liveEndpointStates = []string{"pendingAcceptance", "pending", "available"}

// plan fills the S3 and interface endpoints the stack creates and those of the VPC's it reuses; in
// a shared VPC, none: they are the owner's.
func (e *endpointCheck) plan(closed []existingSubnet) {
	e.ex.Reused = map[string]string{}
	if e.shared {
		e.ownersEndpoints(closed)
	} else {
		e.s3()
		e.interfaces(closed)
	}
	if repo, inECR := config.ParseECR(e.c.Service.Image); len(closed) > 0 && (!inECR || repo.Region != e.c.Region) {
		for _, sub := range closed {
			e.fail("network.privateSubnetIds", "%s has no route to the internet: the image must be in ECR in %s to be pulled through the endpoints (got %q)", sub.id, e.c.Region, e.c.Service.Image)
		}
	}
}

// ownersEndpoints: a participant of a shared VPC can neither create endpoints in it ("This operation
// does not support shared VPCs") nor see the owner's ("Participants cannot view, modify, or delete
// resources that belong to other participants or the VPC owner", VPC User Guide), so the stack
// creates none and counts on the owner's, and says so (review R1).
func (e *endpointCheck) ownersEndpoints(closed []existingSubnet) {
	s := e.c.Network.Settings
	msg := fmt.Sprintf("network: %s belongs to account %s, whose VPC endpoints a participant can neither see nor create: the stack creates none and the tasks use the owner's", e.ex.VpcID, e.owner)
	if len(s.Endpoints) > 0 {
		msg += fmt.Sprintf(" (network.endpoints: %s)", strings.Join(s.Endpoints, ", "))
	}
	if len(closed) == 0 {
		_ = e.ctx.Log.Info(msg, nil)
		return
	}
	var ids []string
	for _, sub := range closed {
		ids = append(ids, sub.id)
	}
	need := config.RequiredEndpoints(e.c)
	_ = e.ctx.Log.Warn(fmt.Sprintf("%s. %s have no route to the internet, so the tasks reach AWS only through them: the owner must provide s3 (a gateway endpoint on their route tables) and %s, with private DNS", msg, strings.Join(ids, ", "), strings.Join(slices.Sorted(maps.Keys(need)), ", ")), nil)
}

// interfaces fills the interface endpoints the stack creates and those of the VPC's it reuses.
func (e *endpointCheck) interfaces(closed []existingSubnet) {
	s := e.c.Network.Settings

	// The interface endpoints: those configured, and with closed subnets those the tasks need.
	services := slices.Clone(s.Endpoints)
	need := map[string]string{}
	if len(closed) > 0 {
		need = config.RequiredEndpoints(e.c)
		for _, service := range slices.Sorted(maps.Keys(need)) {
			if !slices.Contains(services, service) {
				services = append(services, service)
			}
		}
	}
	var missing []string
	for _, service := range services {
		name, err := endpointServiceName(e.ctx, service, "Interface", e.c.Region, e.c.Partition(), e.opts...)
		if err != nil {
			e.fail("network.endpoints", "%v", err)
			continue
		}
		found, err := e.find(name, "Interface")
		switch {
		case err != nil:
			e.fail("network.endpoints", "%s: the VPC's %s endpoints cannot be read: %v", service, service, err)
		case found.ours:
			// This stack's own, from an earlier deploy: it keeps managing it.
			e.ex.Interface = append(e.ex.Interface, InterfaceEndpoint{Service: service, ServiceName: name})
		case found.ambiguous:
			// A second endpoint with private DNS fails: "private-dns-enabled cannot be set because
			// there is already a conflicting DNS domain" (terraform-provider-aws#17535).
			e.fail("network.endpoints", "%s: %s has more than one %s endpoint, and the deploy cannot tell which has private DNS (the one the tasks would use); leave one, with private DNS", service, e.ex.VpcID, name)
		case found.id != "" && !found.privateDNS && slices.Contains(s.Endpoints, service):
			e.fail("network.endpoints", "%s: %s already has the %s endpoint %s, without private DNS; one of the stack's with private DNS would take the service's name over for the whole VPC. Enable private DNS on %s (the stack then uses it) or drop %s from network.endpoints", service, e.ex.VpcID, service, found.id, found.id, service)
		case found.id != "" && !found.privateDNS:
			missing = append(missing, fmt.Sprintf("%s (%s; %s has no private DNS, so the tasks would not reach it)", service, need[service], found.id))
		case found.id != "":
			e.ex.Reused[service] = found.id
		case !slices.Contains(s.Endpoints, service):
			missing = append(missing, fmt.Sprintf("%s (%s)", service, need[service]))
		default:
			e.ex.Interface = append(e.ex.Interface, InterfaceEndpoint{Service: service, ServiceName: name})
		}
	}
	if len(missing) > 0 {
		for _, sub := range closed {
			e.fail("network.privateSubnetIds", "%s has no route to the internet, so the tasks reach AWS only through VPC endpoints, and network.endpoints lacks %s, for which %s has no endpoint with private DNS either", sub.id, strings.Join(missing, ", "), e.ex.VpcID)
		}
	}
}

// s3 puts the stack's S3 gateway endpoint on the private route tables no other S3 endpoint serves:
// a route table holds one route per prefix list, so a second endpoint on it fails with
// RouteAlreadyExists ("route table rtb-… already has a route with destination-prefix-list-id pl-…",
// eksctl#4377). Tables another endpoint serves keep it; the tasks' S3 traffic takes that one.
func (e *endpointCheck) s3() {
	name, err := endpointServiceName(e.ctx, "s3", "Gateway", e.c.Region, e.c.Partition(), e.opts...)
	if err != nil {
		e.fail("network.vpcId", "%v", err)
		return
	}
	// A gateway endpoint's routes go to its service's prefix list, named as the service
	// (terraform-provider-aws vpc_endpoint_data_source.go: FindPrefixListByName(ctx, conn, serviceName)).
	pl, err := awsec2.GetPrefixList(e.ctx, &awsec2.GetPrefixListArgs{Name: pulumi.StringRef(name)}, e.opts...)
	if err != nil {
		e.fail("network.vpcId", "the prefix list of %s cannot be read: %v", name, err)
		return
	}
	plID := pl.Id
	if pl.PrefixListId != nil && *pl.PrefixListId != "" {
		plID = *pl.PrefixListId
	}
	served, err := awsec2.GetRouteTables(e.ctx, &awsec2.GetRouteTablesArgs{
		VpcId:   pulumi.StringRef(e.ex.VpcID),
		Filters: []awsec2.GetRouteTablesFilter{{Name: "route.destination-prefix-list-id", Values: []string{plID}}},
	}, e.opts...)
	if err != nil {
		e.fail("network.vpcId", "the route tables of %s that reach S3 cannot be read: %v", e.ex.VpcID, err)
		return
	}
	ours, err := e.lookup(name, "Gateway", e.ourTags())
	if err != nil && !isNoMatch(err) {
		e.fail("network.vpcId", "the stack's own S3 endpoint in %s cannot be read: %v", e.ex.VpcID, err)
		return
	}
	var mine []string
	for _, rt := range e.ex.PrivateRouteTableIDs {
		switch {
		case ours != nil && slices.Contains(ours.RouteTableIds, rt):
			mine = append(mine, rt)
		case slices.Contains(served.Ids, rt):
			e.ex.S3Served = append(e.ex.S3Served, rt)
		default:
			mine = append(mine, rt)
		}
	}
	if len(mine) > 0 {
		e.ex.S3 = &GatewayEndpoint{ServiceName: name, RouteTableIDs: mine}
	}
}

// ourTags are the tags the provider puts on every resource of this stack (config.AllTags): an
// endpoint that carries them is the stack's own, from an earlier deploy, not the VPC's.
func (e *endpointCheck) ourTags() map[string]string {
	return map[string]string{"project": e.c.Project, "stack": e.c.Stack}
}

// foundEndpoint is what the VPC has of one endpoint service: nothing (no id), one endpoint, the
// stack's own, or several of which none is the stack's (ambiguous).
type foundEndpoint struct {
	id               string
	privateDNS, ours bool
	ambiguous        bool
}

// find looks for the VPC's live endpoints of a service. The data source returns exactly one and
// fails on none or several; with several, the stack's own (by its tags) is looked for.
func (e *endpointCheck) find(serviceName, kind string) (foundEndpoint, error) {
	ep, err := e.lookup(serviceName, kind, nil)
	switch {
	case err == nil:
		ours := true
		for k, v := range e.ourTags() {
			ours = ours && ep.Tags[k] == v
		}
		return foundEndpoint{id: ep.Id, privateDNS: ep.PrivateDnsEnabled, ours: ours}, nil
	case isNoMatch(err):
		return foundEndpoint{}, nil
	case !isMultipleMatch(err):
		return foundEndpoint{}, err
	}
	if _, err := e.lookup(serviceName, kind, e.ourTags()); err == nil {
		// The stack's endpoint has private DNS, so no other may: the others are not in the way.
		return foundEndpoint{ours: true}, nil
	} else if !isNoMatch(err) {
		return foundEndpoint{}, err
	}
	return foundEndpoint{ambiguous: true}, nil
}

func (e *endpointCheck) lookup(serviceName, kind string, tags map[string]string) (*awsec2.LookupVpcEndpointResult, error) {
	return awsec2.LookupVpcEndpoint(e.ctx, &awsec2.LookupVpcEndpointArgs{
		VpcId:       pulumi.StringRef(e.ex.VpcID),
		ServiceName: pulumi.StringRef(serviceName),
		Tags:        tags,
		Filters: []awsec2.GetVpcEndpointFilter{
			{Name: "vpc-endpoint-type", Values: []string{kind}},
			{Name: "vpc-endpoint-state", Values: liveEndpointStates},
		},
	}, e.opts...)
}

// The provider's singular data sources fail with "no matching <thing> found" and "multiple <things>
// matched; use additional constraints ..." (terraform-provider-aws tfresource.SingularDataSourceFindError).
func isNoMatch(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "no matching") || strings.Contains(msg, "returned no results")
}

func isMultipleMatch(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "multiple")
}

// routeTableOf is the route table a subnet uses: the one associated with it, or else the VPC's main
// route table, which serves every subnet without an association of its own. Only "no such table"
// falls back to the main one: a lookup that failed otherwise (throttling, permissions) would pick the
// main table's routes for a subnet that has its own.
func routeTableOf(ctx *pulumi.Context, vpcID, subnetID string, opts ...pulumi.InvokeOption) (*awsec2.LookupRouteTableResult, error) {
	rt, err := awsec2.LookupRouteTable(ctx, &awsec2.LookupRouteTableArgs{SubnetId: pulumi.StringRef(subnetID)}, opts...)
	if err == nil || !isNoMatch(err) {
		return rt, err
	}
	return awsec2.LookupRouteTable(ctx, &awsec2.LookupRouteTableArgs{
		VpcId:   pulumi.StringRef(vpcID),
		Filters: []awsec2.GetRouteTableFilter{{Name: "association.main", Values: []string{"true"}}},
	}, opts...)
}
