package infra

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// ExistingNetwork is an existing VPC as the deploy found it.
type ExistingNetwork struct {
	VpcID            string
	PublicSubnetIDs  []string
	PrivateSubnetIDs []string
	// PrivateRouteTableIDs are the private subnets' route tables, each once (for the S3 endpoint).
	PrivateRouteTableIDs []string
	// OnePrivateSubnetPerAZ are where interface endpoints go: an endpoint takes one subnet per AZ.
	OnePrivateSubnetPerAZ []string
}

// existingSubnet is what the deploy learned of one configured subnet.
type existingSubnet struct {
	id, az, routeTable string
	// out is how its 0.0.0.0/0 route leaves: "igw-...", "nat-...", an instance, an interface, a
	// transit gateway; "" without one.
	out string
}

// CheckExistingNetwork reads an existing VPC's subnets and routes through AWS's APIs before anything
// is created, and refuses a network the stack cannot run in, naming each subnet at fault: every
// subnet in the VPC; public and private subnets each in at least two availability zones, and a public
// subnet in every AZ of a private one (the load balancer routes only to targets in its enabled AZs:
// "Target groups for your Application Load Balancers"); public subnets routed to an internet gateway;
// private subnets routed to a NAT, or the stack's endpoints covering what the tasks call; DNS on when
// interface endpoints need private DNS.
func CheckExistingNetwork(ctx *pulumi.Context, c *config.Config, opts ...pulumi.InvokeOption) (*ExistingNetwork, error) {
	s := c.Network.Settings
	vpc, err := awsec2.LookupVpc(ctx, &awsec2.LookupVpcArgs{Id: pulumi.StringRef(s.VpcID)}, opts...)
	if err != nil {
		return nil, fmt.Errorf("network.vpcId: %s cannot be read: %w", s.VpcID, err)
	}
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(s.Endpoints) > 0 && (!vpc.EnableDnsSupport || !vpc.EnableDnsHostnames) {
		fail("network.vpcId", "%s has enableDnsSupport %v and enableDnsHostnames %v; the interface endpoints' private DNS needs both", s.VpcID, vpc.EnableDnsSupport, vpc.EnableDnsHostnames)
	}
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
			rt, err := routeTableOf(ctx, s.VpcID, id, opts...)
			if err != nil {
				fail(key, "%s: its route table cannot be read: %v", id, err)
				continue
			}
			es := existingSubnet{id: id, az: sub.AvailabilityZone, routeTable: rt.RouteTableId}
			for _, r := range rt.Routes {
				if r.CidrBlock == "0.0.0.0/0" {
					es.out = cmp.Or(r.GatewayId, r.NatGatewayId, r.InstanceId, r.NetworkInterfaceId, r.TransitGatewayId)
				}
			}
			out = append(out, es)
		}
		return out
	}
	public := read("network.publicSubnetIds", s.PublicSubnetIDs)
	private := read("network.privateSubnetIds", s.PrivateSubnetIDs)

	publicAZs, privateAZs := map[string]bool{}, map[string]string{}
	for _, sub := range public {
		publicAZs[sub.az] = true
		if !strings.HasPrefix(sub.out, "igw-") {
			fail("network.publicSubnetIds", "%s does not route 0.0.0.0/0 to an internet gateway (its route table %s sends it to %q): the load balancer would not be reachable", sub.id, sub.routeTable, sub.out)
		}
	}
	need := config.RequiredEndpoints(c)
	var missing []string
	for _, e := range slices.Sorted(maps.Keys(need)) {
		if !slices.Contains(s.Endpoints, e) {
			missing = append(missing, e)
		}
	}
	repo, inECR := config.ParseECR(c.Service.Image)
	for _, sub := range private {
		if _, seen := privateAZs[sub.az]; !seen {
			privateAZs[sub.az] = sub.id
		}
		if !publicAZs[sub.az] && len(public) > 0 {
			fail("network.privateSubnetIds", "%s is in %s, where no public subnet is: the load balancer would not route to its tasks", sub.id, sub.az)
		}
		switch {
		case strings.HasPrefix(sub.out, "igw-"):
			fail("network.privateSubnetIds", "%s routes 0.0.0.0/0 to an internet gateway: it is a public subnet", sub.id)
		case sub.out != "":
			// A NAT gateway or instance, or a transit gateway to one: the tasks reach AWS and registries.
		case len(missing) > 0:
			fail("network.privateSubnetIds", "%s has no route to the internet, so the tasks reach AWS only through VPC endpoints, and network.endpoints lacks %s", sub.id, strings.Join(missing, ", "))
		case !inECR || repo.Region != c.Region:
			fail("network.privateSubnetIds", "%s has no route to the internet: the image must be in ECR in %s to be pulled through the endpoints (got %q)", sub.id, c.Region, c.Service.Image)
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

	ex := &ExistingNetwork{VpcID: s.VpcID, PublicSubnetIDs: s.PublicSubnetIDs, PrivateSubnetIDs: s.PrivateSubnetIDs}
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
	return ex, nil
}

// routeTableOf is the route table a subnet uses: the one associated with it, or else the VPC's main
// route table, which serves every subnet without an association of its own.
func routeTableOf(ctx *pulumi.Context, vpcID, subnetID string, opts ...pulumi.InvokeOption) (*awsec2.LookupRouteTableResult, error) {
	rt, err := awsec2.LookupRouteTable(ctx, &awsec2.LookupRouteTableArgs{SubnetId: pulumi.StringRef(subnetID)}, opts...)
	if err == nil {
		return rt, nil
	}
	return awsec2.LookupRouteTable(ctx, &awsec2.LookupRouteTableArgs{
		VpcId:   pulumi.StringRef(vpcID),
		Filters: []awsec2.GetRouteTableFilter{{Name: "association.main", Values: []string{"true"}}},
	}, opts...)
}
