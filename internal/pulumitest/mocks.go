// Package pulumitest runs Pulumi programs under mocks and records every resource they register,
// so tests can assert on inputs, parents, providers and dependencies.
package pulumitest

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/policy"
)

// Account and Region are what the mocks pretend to run in; ZoneID and ZoneName are the hosted zone
// a lookup by id finds.
const (
	Account  = "123456789012"
	Region   = "us-east-1"
	ZoneID   = "Z0123456789ABCDEFGHIJ"
	ZoneName = "example.com"
)

// Resource is one registration the program made: what the policy suite sees, plus the options.
type Resource struct {
	policy.Resource
	Parent        string
	Provider      string
	Dependencies  []string
	Remote        bool
	IgnoreChanges []string
	// CreateTimeout is the customTimeouts create value, "" for the provider's default.
	CreateTimeout string
}

// Invoke is one data-source call the program made.
type Invoke struct {
	Token string
	Args  resource.PropertyMap
}

// Mocks implements pulumi.MockResourceMonitor: inputs are echoed back as outputs, with the
// attributes AWS computes (ids, ARNs, names, DNS names) added per type.
type Mocks struct {
	Project string
	Stack   string
	// Exports holds the stack outputs after Run, awaited.
	Exports map[string]any

	mu        sync.Mutex
	resources []*Resource
	invokes   []Invoke
}

// NewResource records the registration and returns plausible outputs.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rpc := args.RegisterRPC
	r := &Resource{
		Resource: policy.Resource{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs.Copy()},
		Remote:   rpc.GetRemote(),
	}
	r.Parent = rpc.GetParent()
	r.Provider = rpc.GetProvider()
	r.Dependencies = rpc.GetDependencies()
	r.Protect = rpc.GetProtect()
	r.IgnoreChanges = rpc.GetIgnoreChanges()
	r.CreateTimeout = rpc.GetCustomTimeouts().GetCreate()
	// The same URN the mock monitor assigns, so parents and dependencies can be looked up.
	parentType := tokens.Type("")
	if parent := resource.URN(r.Parent); parent != "" && parent.QualifiedType() != resource.RootStackType {
		parentType = parent.QualifiedType()
	}
	r.URN = string(resource.NewURN(tokens.QName(m.Stack), tokens.PackageName(m.Project), parentType, tokens.Type(r.Type), r.Name))

	outputs := args.Inputs.Copy()
	id := args.Name + "-id"
	computed(args.TypeToken, args.Name, outputs)
	if v, ok := outputs["id"]; ok && v.IsString() {
		id = v.StringValue()
	}
	r.Outputs = outputs
	r.ID = id
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	return id, outputs, nil
}

// Call answers the data sources the program reads.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.invokes = append(m.invokes, Invoke{Token: args.Token, Args: args.Args.Copy()})
	m.mu.Unlock()
	switch args.Token {
	case "aws:ssm/getParameter:getParameter":
		name := args.Args["name"].StringValue()
		ami := "ami-0123456789abcdef0"
		if strings.Contains(name, "arm64") {
			ami = "ami-0fedcba9876543210"
		}
		return resource.PropertyMap{
			"name":  resource.NewStringProperty(name),
			"value": resource.NewStringProperty(ami),
			"type":  resource.NewStringProperty("String"),
			"arn":   resource.NewStringProperty("arn:aws:ssm:" + Region + "::parameter" + name),
		}, nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.PropertyMap{
			"accountId": resource.NewStringProperty(Account),
			"arn":       resource.NewStringProperty("arn:aws:iam::" + Account + ":user/deployer"),
			"userId":    resource.NewStringProperty("AIDAEXAMPLE"),
			"id":        resource.NewStringProperty(Account),
		}, nil
	case "aws:ec2/getVpcEndpointService:getVpcEndpointService":
		if _, byName := args.Args["service"]; !byName {
			return endpointServiceByFilter(args.Args)
		}
		service := args.Args["service"].StringValue()
		return resource.PropertyMap{
			"serviceName": resource.NewStringProperty("com.amazonaws." + Region + "." + service),
			"serviceType": args.Args["serviceType"],
		}, nil
	case "aws:ec2/getVpc:getVpc":
		id := args.Args["id"].StringValue()
		dns := id != NoDNSVpc
		vpc := resource.PropertyMap{
			"id": resource.NewStringProperty(id), "cidrBlock": resource.NewStringProperty("10.50.0.0/16"),
			"enableDnsSupport": resource.NewBoolProperty(dns), "enableDnsHostnames": resource.NewBoolProperty(dns),
		}
		vpcExtras(id, vpc)
		return vpc, nil
	case "aws:ec2/getSubnet:getSubnet":
		id := args.Args["id"].StringValue()
		sub, ok := ExistingSubnets[id]
		if !ok {
			return nil, fmt.Errorf("InvalidSubnetID.NotFound: the subnet ID '%s' does not exist", id)
		}
		cidr, free := sub.Cidr, sub.FreeIPs
		if cidr == "" {
			cidr, free = "10.50.0.0/24", 240
		}
		return resource.PropertyMap{
			"id": resource.NewStringProperty(id), "vpcId": resource.NewStringProperty(cmpOr(sub.Vpc, ExistingVpc)),
			"availabilityZone": resource.NewStringProperty(sub.AZ), "cidrBlock": resource.NewStringProperty(cidr),
			"availableIpAddressCount": resource.NewNumberProperty(float64(free)),
		}, nil
	case "aws:ec2/getRouteTable:getRouteTable":
		return routeTable(args.Args)
	case "aws:ec2/getRouteTables:getRouteTables":
		return routeTables(args.Args), nil
	case "aws:ec2/getPrefixList:getPrefixList":
		return prefixList(args.Args)
	case "aws:ec2/getVpcEndpoint:getVpcEndpoint":
		return vpcEndpoint(args.Args)
	case "aws:ec2transitgateway/getVpcAttachment:getVpcAttachment":
		return vpcAttachment(args.Args)
	case "aws:ec2/getNatGateway:getNatGateway", "aws:ec2/getInstance:getInstance",
		"aws:ec2/getNetworkInterface:getNetworkInterface", "aws:ec2/getInternetGateway:getInternetGateway":
		return routeTarget(args.Token, args.Args)
	case "aws:route53/getZone:getZone":
		// A zone found by name is that zone; one found by id is ZoneName (so tests pick the domain).
		name := ZoneName
		if v, ok := args.Args["name"]; ok && v.IsString() {
			name = v.StringValue()
		}
		return resource.PropertyMap{
			"name":   resource.NewStringProperty(strings.TrimSuffix(name, ".") + "."),
			"zoneId": resource.NewStringProperty(ZoneID),
		}, nil
	}
	return nil, fmt.Errorf("pulumitest: no mock for invoke %s", args.Token)
}

// ExistingVpc and ExistingSubnets are the existing network the lookups describe: public subnets route
// to an internet gateway, private ones to a NAT gateway unless NoRoute, and any subnet not listed
// (awsx's, in tests that create the VPC) has a route table named after it.
const (
	ExistingVpc = "vpc-0e1d2c3b4a5968778"
	// NoDNSVpc is an existing VPC without DNS hostnames.
	NoDNSVpc = "vpc-0d0d0d0d0d0d0d0d0"
)

// ExistingSubnet is one subnet of the existing network.
type ExistingSubnet struct {
	AZ      string
	Public  bool
	NoRoute bool
	// Vpc is set when the subnet is in another VPC than ExistingVpc.
	Vpc string
	// MainTable is set when the subnet has no route table of its own and uses the VPC's main one.
	MainTable bool
	// Route, when set, is where the subnet's table sends 0.0.0.0/0 instead, as the provider reports
	// it: the route's key ("vpcEndpointId", "coreNetworkArn"...) and its target.
	Route [2]string
	// Propagated: 0.0.0.0/0 is propagated from a virtual private gateway, which the route table
	// lookup leaves out (vpc_route_table_data_source.go skips EnableVgwRoutePropagation routes) and
	// DescribeRouteTables' filters still see.
	Propagated bool
	// StaleRoute: besides a working 0.0.0.0/0, the table has a blackhole route to something gone.
	StaleRoute bool
	// LookupFails: reading the subnet's route table fails, for another reason than "no such table".
	LookupFails bool
	// Cidr and FreeIPs are its block and its free addresses; "" is a /24 with 240 free.
	Cidr    string
	FreeIPs int
}

// ExistingSubnets are the subnets of the existing network, by id.
var ExistingSubnets = map[string]ExistingSubnet{
	"subnet-0a00000000000000a": {AZ: Region + "a", Public: true},
	"subnet-0b00000000000000b": {AZ: Region + "b", Public: true},
	"subnet-0c00000000000000c": {AZ: Region + "c", Public: true},
	"subnet-1a00000000000000a": {AZ: Region + "a"},
	"subnet-1b00000000000000b": {AZ: Region + "b"},
	"subnet-1c00000000000000c": {AZ: Region + "c", MainTable: true},
	"subnet-2a00000000000000a": {AZ: Region + "a", NoRoute: true},
	"subnet-2b00000000000000b": {AZ: Region + "b", NoRoute: true},
	"subnet-3a00000000000000a": {AZ: Region + "a", Vpc: "vpc-0f0f0f0f0f0f0f0f0"},
	"subnet-4d00000000000000d": {AZ: Region + "d"},

	// Routes the existing-network check must classify (review A8): public subnets behind AWS Network
	// Firewall, private ones out through Cloud WAN, a VPN's propagated route, a firewall endpoint; a
	// NAT gateway that is gone, a table with a stale blackhole route, a peering connection, a
	// detached internet gateway, a transit gateway behind a table with a blackhole route.
	"subnet-5a00000000000000a": {AZ: Region + "a", Public: true, Route: [2]string{"vpcEndpointId", "vpce-0f1e00000000000a1"}},
	"subnet-5b00000000000000b": {AZ: Region + "b", Public: true, Route: [2]string{"vpcEndpointId", "vpce-0f1e00000000000b1"}},
	"subnet-6a00000000000000a": {AZ: Region + "a", Route: [2]string{"coreNetworkArn", CoreNetwork}},
	"subnet-6b00000000000000b": {AZ: Region + "b", Propagated: true},
	"subnet-7a00000000000000a": {AZ: Region + "a", Route: [2]string{"natGatewayId", GoneNatGateway}},
	"subnet-7b00000000000000b": {AZ: Region + "b", StaleRoute: true},
	"subnet-8a00000000000000a": {AZ: Region + "a", Route: [2]string{"vpcEndpointId", "vpce-0f1e00000000000a2"}},
	"subnet-8b00000000000000b": {AZ: Region + "b", Route: [2]string{"vpcPeeringConnectionId", "pcx-0123456789abcdef0"}},
	"subnet-9a00000000000000a": {AZ: Region + "a", Public: true, Route: [2]string{"gatewayId", GoneInternetGateway}},
	"subnet-9b00000000000000b": {AZ: Region + "b", Route: [2]string{"transitGatewayId", TransitGateway}, StaleRoute: true},
	// Review R3: a transit gateway the VPC has no attachment to any more (its route a blackhole), and
	// Cloud WAN beside an unrelated blackhole route.
	"subnet-9c00000000000000c": {AZ: Region + "b", Route: [2]string{"transitGatewayId", GoneTransitGateway}},
	"subnet-6c00000000000000c": {AZ: Region + "b", Route: [2]string{"coreNetworkArn", CoreNetwork}, StaleRoute: true},
	"subnet-1e00000000000000e": {AZ: Region + "a", LookupFails: true},
	// A public subnet too small for a load balancer: a /28 (11 usable addresses).
	"subnet-0f00000000000000f": {AZ: Region + "b", Public: true, Cidr: "10.50.240.0/28", FreeIPs: 11},

	// EndpointsVpc: public subnets, private ones with a NAT route and without any.
	"subnet-e0a0000000000000a": {AZ: Region + "a", Public: true, Vpc: EndpointsVpc},
	"subnet-e0b0000000000000b": {AZ: Region + "b", Public: true, Vpc: EndpointsVpc},
	"subnet-e1a0000000000000a": {AZ: Region + "a", Vpc: EndpointsVpc},
	"subnet-e1b0000000000000b": {AZ: Region + "b", Vpc: EndpointsVpc},
	"subnet-e2a0000000000000a": {AZ: Region + "a", NoRoute: true, Vpc: EndpointsVpc},
	"subnet-e2b0000000000000b": {AZ: Region + "b", NoRoute: true, Vpc: EndpointsVpc},

	// SharedVpc, the same layout.
	"subnet-a0a0000000000000a": {AZ: Region + "a", Public: true, Vpc: SharedVpc},
	"subnet-a0b0000000000000b": {AZ: Region + "b", Public: true, Vpc: SharedVpc},
	"subnet-a1a0000000000000a": {AZ: Region + "a", Vpc: SharedVpc},
	"subnet-a1b0000000000000b": {AZ: Region + "b", Vpc: SharedVpc},
	"subnet-a2a0000000000000a": {AZ: Region + "a", NoRoute: true, Vpc: SharedVpc},
	"subnet-a2b0000000000000b": {AZ: Region + "b", NoRoute: true, Vpc: SharedVpc},
	// Review R1: SharedVpc's subnets routed to its owner's firewall endpoint, internet gateway and NAT
	// gateway, which the participant's lookups do not find; two beside a stale blackhole route.
	"subnet-a5a0000000000000a": {AZ: Region + "a", Public: true, Vpc: SharedVpc, Route: [2]string{"vpcEndpointId", OwnerFirewallEndpoint}},
	"subnet-a3b0000000000000b": {AZ: Region + "b", Public: true, Vpc: SharedVpc, Route: [2]string{"gatewayId", OwnerInternetGateway}, StaleRoute: true},
	"subnet-a4a0000000000000a": {AZ: Region + "a", Vpc: SharedVpc, Route: [2]string{"natGatewayId", OwnerNatGateway}, StaleRoute: true},
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// routeTable answers getRouteTable by subnet (its own table) or by VPC and association.main (the
// main table, which routes through a NAT gateway).
func routeTable(args resource.PropertyMap) (resource.PropertyMap, error) {
	str := resource.NewStringProperty
	route := func(key, target string) resource.PropertyValue {
		return resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"cidrBlock": str("0.0.0.0/0"), resource.PropertyKey(key): str(target),
		})})
	}
	v, bySubnet := args["subnetId"]
	if !bySubnet || !v.IsString() {
		return resource.PropertyMap{"routeTableId": str("rtb-main"), "id": str("rtb-main"), "routes": route("natGatewayId", "nat-main")}, nil
	}
	id := v.StringValue()
	rt := "rtb-" + strings.TrimPrefix(id, "subnet-")
	sub, known := ExistingSubnets[id]
	switch {
	case !known:
		return resource.PropertyMap{"routeTableId": str(rt), "id": str(rt), "subnetId": str(id)}, nil
	case sub.MainTable:
		return nil, fmt.Errorf("no matching route table found for subnet %s", id)
	case sub.LookupFails:
		return nil, fmt.Errorf("reading EC2 VPC Route Table: RequestLimitExceeded: Request limit exceeded")
	case sub.Route[0] != "":
		return resource.PropertyMap{"routeTableId": str(rt), "id": str(rt), "routes": route(sub.Route[0], sub.Route[1])}, nil
	case sub.Propagated:
		return resource.PropertyMap{"routeTableId": str(rt), "id": str(rt), "routes": resource.NewArrayProperty(nil)}, nil
	case sub.Public:
		return resource.PropertyMap{"routeTableId": str(rt), "id": str(rt), "routes": route("gatewayId", "igw-0123456789abcdef0")}, nil
	case sub.NoRoute:
		return resource.PropertyMap{"routeTableId": str(rt), "id": str(rt), "routes": resource.NewArrayProperty(nil)}, nil
	}
	return resource.PropertyMap{"routeTableId": str(rt), "id": str(rt), "routes": route("natGatewayId", "nat-0123456789abcdef0")}, nil
}

func computed(typ, name string, out resource.PropertyMap) {
	str := resource.NewStringProperty
	setDefault := func(key, value string) {
		if v, ok := out[resource.PropertyKey(key)]; !ok || v.IsNull() {
			out[resource.PropertyKey(key)] = str(value)
		}
	}
	service := strings.SplitN(strings.SplitN(typ, ":", 3)[1], "/", 2)[0]
	switch typ {
	case "awsx:ec2:Vpc":
		azs := 2
		if v, ok := out["numberOfAvailabilityZones"]; ok && v.IsNumber() {
			azs = int(v.NumberValue())
		}
		var public, private []resource.PropertyValue
		for i := 0; i < azs; i++ {
			public = append(public, str(fmt.Sprintf("subnet-public-%d", i)))
			private = append(private, str(fmt.Sprintf("subnet-private-%d", i)))
		}
		out["vpcId"] = str("vpc-0123456789")
		out["publicSubnetIds"] = resource.NewArrayProperty(public)
		out["privateSubnetIds"] = resource.NewArrayProperty(private)
		return
	case "aws:lb/loadBalancer:LoadBalancer":
		setDefault("arnSuffix", "app/"+name+"/50dc6c495c0c9188")
		setDefault("dnsName", name+"-1234567890."+Region+".elb.amazonaws.com")
		setDefault("zoneId", "Z35SXDOTRQ7X7K")
	case "aws:lb/targetGroup:TargetGroup":
		setDefault("arnSuffix", "targetgroup/"+name+"/73e2d6bc24d8a067")
	case "aws:ec2/securityGroup:SecurityGroup":
		setDefault("id", "sg-"+name)
	case "aws:acm/certificate:Certificate":
		// One CNAME per name, handed back in reverse order: the provider keeps them as a set.
		var names []resource.PropertyValue
		if v, ok := out["domainName"]; ok && v.IsString() {
			names = append(names, v)
		}
		if v, ok := out["subjectAlternativeNames"]; ok && v.IsArray() {
			names = append(names, v.ArrayValue()...)
		}
		var options []resource.PropertyValue
		for i := len(names) - 1; i >= 0; i-- {
			host := names[i].StringValue()
			options = append(options, resource.NewObjectProperty(resource.PropertyMap{
				"domainName":          str(host),
				"resourceRecordName":  str("_x1." + host + "."),
				"resourceRecordType":  str("CNAME"),
				"resourceRecordValue": str("_x2." + host + ".acm-validations.aws."),
			}))
		}
		out["domainValidationOptions"] = resource.NewArrayProperty(options)
		setDefault("arn", fmt.Sprintf("arn:aws:acm:%s:%s:certificate/0f1e2d3c-4b5a-6978-8695-%012d", Region, Account, len(name)))
	case "aws:acm/certificateValidation:CertificateValidation":
		return
	case "aws:route53/record:Record":
		if v, ok := out["name"]; ok && v.IsString() {
			setDefault("fqdn", strings.TrimSuffix(v.StringValue(), "."))
		}
		return
	case "aws:ecs/cluster:Cluster":
		// ECS's own ARN format, which policies derive task and service ARNs from.
		setDefault("arn", fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", Region, Account, name))
	case "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders":
		// The provider keeps capacityProviders as a set and may return it in any order
		// (pulumi/pulumi-terraform-bridge#2478); hand it back reversed so code that reads it by
		// position gets the wrong name here too.
		if v, ok := out["capacityProviders"]; ok && v.IsArray() {
			names := append([]resource.PropertyValue(nil), v.ArrayValue()...)
			for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
				names[i], names[j] = names[j], names[i]
			}
			out["capacityProviders"] = resource.NewArrayProperty(names)
		}
	case "aws:ec2/launchTemplate:LaunchTemplate":
		out["latestVersion"] = resource.NewNumberProperty(1)
	case "aws:ecs/taskDefinition:TaskDefinition":
		family := name
		if v, ok := out["family"]; ok && v.IsString() {
			family = v.StringValue()
		}
		setDefault("arn", fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:1", Region, Account, family))
		out["revision"] = resource.NewNumberProperty(1)
	case "aws:rds/instance:Instance":
		setDefault("identifier", name)
		setDefault("address", name+".abcdefghijkl."+Region+".rds.amazonaws.com")
		out["port"] = resource.NewNumberProperty(5432)
		if v, ok := out["manageMasterUserPassword"]; ok && v.IsBool() && v.BoolValue() {
			secret := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:rds!db-%s-AbCdEf", Region, Account, name)
			out["masterUserSecrets"] = resource.NewArrayProperty([]resource.PropertyValue{
				resource.NewObjectProperty(resource.PropertyMap{"secretArn": str(secret)}),
			})
		}
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		setDefault("primaryEndpointAddress", "master."+name+".abcdef."+Region+".cache.amazonaws.com")
		// One member cluster per node, handed back in reverse order: the provider keeps them as a set.
		if v, ok := out["numCacheClusters"]; ok && v.IsNumber() {
			var members []resource.PropertyValue
			for i := int(v.NumberValue()); i >= 1; i-- {
				members = append(members, str(fmt.Sprintf("%s-%03d", name, i)))
			}
			out["memberClusters"] = resource.NewArrayProperty(members)
		}
	case "aws:secretsmanager/secret:Secret":
		setDefault("arn", fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", Region, Account, name))
	case "aws:cloudwatch/logGroup:LogGroup":
		if v, ok := out["namePrefix"]; ok && v.IsString() {
			setDefault("name", v.StringValue()+"20261125000000000000000001")
		}
		setDefault("name", name)
		setDefault("arn", fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", Region, Account, out["name"].StringValue()))
	// The ARN formats of the services whose ARNs policies match by pattern (alarm:*, rule/*).
	case "aws:sns/topic:Topic":
		setDefault("arn", fmt.Sprintf("arn:aws:sns:%s:%s:%s", Region, Account, name))
	case "aws:kms/key:Key":
		keyID := fmt.Sprintf("0f1e2d3c-4b5a-6978-8695-%012d", len(name))
		setDefault("keyId", keyID)
		setDefault("arn", fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", Region, Account, keyID))
	case "aws:cloudwatch/metricAlarm:MetricAlarm":
		setDefault("name", name)
		setDefault("arn", fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", Region, Account, name))
	case "aws:cloudwatch/eventRule:EventRule":
		setDefault("name", name)
		setDefault("arn", fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", Region, Account, name))
	case "aws:sqs/queue:Queue":
		setDefault("name", name)
		setDefault("arn", fmt.Sprintf("arn:aws:sqs:%s:%s:%s", Region, Account, name))
		setDefault("url", fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", Region, Account, name))
	case "aws:ecr/repository:Repository":
		setDefault("name", name)
		setDefault("arn", fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", Region, Account, out["name"].StringValue()))
		setDefault("repositoryUrl", fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", Account, Region, out["name"].StringValue()))
	case "aws:sfn/stateMachine:StateMachine":
		setDefault("name", name)
		setDefault("arn", fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", Region, Account, name))
	}
	if strings.HasPrefix(typ, "pulumi:providers:") {
		return
	}
	setDefault("name", name)
	setDefault("arn", fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s", service, Region, Account, service, out["name"].StringValue()))
}

// Resources returns every registration, sorted by type then name so test output is stable.
func (m *Mocks) Resources() []*Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]*Resource(nil), m.resources...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Invokes returns every data-source call.
func (m *Mocks) Invokes() []Invoke {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Invoke(nil), m.invokes...)
}

// OfType returns the resources of one type token.
func (m *Mocks) OfType(typ string) []*Resource {
	var out []*Resource
	for _, r := range m.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Named returns the resource with that type and logical name, or nil.
func (m *Mocks) Named(typ, name string) *Resource {
	for _, r := range m.OfType(typ) {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// The existing VPCs besides ExistingVpc, and what their routes point at.
const (
	// EndpointsVpc has endpoints of its own (ExistingEndpoints) and a second CIDR block.
	EndpointsVpc = "vpc-0e0e0e0e0e0e0e0e0"
	// SharedVpc belongs to SharedVpcOwner, who shares its subnets with Account through RAM.
	SharedVpc      = "vpc-05a5a5a5a5a5a5a5a"
	SharedVpcOwner = "210987654321"
	// S3PrefixList is the S3 prefix list (us-east-1's): S3 gateway endpoints route to it.
	S3PrefixList = "pl-63a5400a"
	// CoreNetwork is a Cloud WAN core network.
	CoreNetwork = "arn:aws:networkmanager::123456789012:core-network/core-network-0123456789abcdef0"
	// GoneNatGateway and GoneInternetGateway are deleted and detached: routes to them are blackholes.
	GoneNatGateway      = "nat-0dead0000000000001"
	GoneInternetGateway = "igw-0dead0000000000001"
	// TransitGateway has an available attachment of ExistingVpc; GoneTransitGateway none any more.
	TransitGateway     = "tgw-0123456789abcdef0"
	GoneTransitGateway = "tgw-0dead0000000000001"
	// SharedVpcOwner's NAT gateway, internet gateway and firewall endpoint: the participant's lookups
	// find none of them ("Participants cannot view ... resources that belong to ... the VPC owner").
	OwnerNatGateway       = "nat-05a5a5a5a5a5a5a5a"
	OwnerInternetGateway  = "igw-05a5a5a5a5a5a5a5a"
	OwnerFirewallEndpoint = "vpce-05a5a5a5a5a5a5a5a"
)

// goneTargets are route targets that no longer work.
var goneTargets = map[string]bool{GoneNatGateway: true, GoneInternetGateway: true, GoneTransitGateway: true}

// ownerTargets are SharedVpcOwner's, which lookups in Account do not find.
var ownerTargets = map[string]bool{OwnerNatGateway: true, OwnerInternetGateway: true, OwnerFirewallEndpoint: true}

// vpcAttachment answers getVpcAttachment by the vpc-id, transit-gateway-id and state filters:
// ExistingVpc's available attachment to TransitGateway, and nothing else.
func vpcAttachment(args resource.PropertyMap) (resource.PropertyMap, error) {
	f := filterValues(args)
	if accepts(f["vpc-id"], ExistingVpc) && accepts(f["transit-gateway-id"], TransitGateway) && accepts(f["state"], "available") {
		str := resource.NewStringProperty
		return resource.PropertyMap{"id": str("tgw-attach-0123456789abcdef0"), "vpcId": str(ExistingVpc),
			"transitGatewayId": str(TransitGateway), "vpcOwnerId": str(Account)}, nil
	}
	return nil, fmt.Errorf("no matching EC2 Transit Gateway VPC Attachment found")
}

// vpcSecondaryCidrs are CIDR blocks associated with a VPC besides its primary one.
var vpcSecondaryCidrs = map[string][]string{EndpointsVpc: {"100.64.0.0/16"}}

// vpcExtras adds the owner and associated CIDR blocks of the VPCs that have them.
func vpcExtras(id string, vpc resource.PropertyMap) {
	if id == SharedVpc {
		vpc["ownerId"] = resource.NewStringProperty(SharedVpcOwner)
	}
	if cidrs := vpcSecondaryCidrs[id]; len(cidrs) > 0 {
		associations := []resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"cidrBlock": vpc["cidrBlock"], "state": resource.NewStringProperty("associated"),
		})}
		for _, cidr := range cidrs {
			associations = append(associations, resource.NewObjectProperty(resource.PropertyMap{
				"cidrBlock": resource.NewStringProperty(cidr), "state": resource.NewStringProperty("associated"),
			}))
		}
		vpc["cidrBlockAssociations"] = resource.NewArrayProperty(associations)
	}
}

// ExistingEndpoint is a VPC endpoint the existing VPCs already have.
type ExistingEndpoint struct {
	ID, Vpc string
	// Service as network.endpoints names it ("s3", "logs"), and its type: Gateway, Interface or
	// GatewayLoadBalancer.
	Service, Type string
	PrivateDNS    bool
	RouteTables   []string
	Tags          map[string]string
}

// ServiceName is the endpoint's service name in the mocks' region.
func (e ExistingEndpoint) ServiceName() string { return "com.amazonaws." + Region + "." + e.Service }

// ExistingEndpoints are the endpoints of the existing VPCs: EndpointsVpc has an S3 gateway endpoint
// on two of its private route tables; ecr.api, ecr.dkr and logs with private DNS; sts without; two
// kms endpoints; an ecs endpoint the dev stack of this project created. ExistingVpc has the
// Gateway Load Balancer endpoints of its firewalls.
var ExistingEndpoints = []ExistingEndpoint{
	{ID: "vpce-0e5300000000000a1", Vpc: EndpointsVpc, Service: "s3", Type: "Gateway", RouteTables: []string{"rtb-e1a0000000000000a", "rtb-e2a0000000000000a"}},
	{ID: "vpce-0ec0000000000000a", Vpc: EndpointsVpc, Service: "ecr.api", Type: "Interface", PrivateDNS: true},
	{ID: "vpce-0ec0000000000000d", Vpc: EndpointsVpc, Service: "ecr.dkr", Type: "Interface", PrivateDNS: true},
	{ID: "vpce-0109000000000000a", Vpc: EndpointsVpc, Service: "logs", Type: "Interface", PrivateDNS: true},
	{ID: "vpce-05e5000000000000a", Vpc: EndpointsVpc, Service: "sts", Type: "Interface"},
	{ID: "vpce-0c5c000000000000a", Vpc: EndpointsVpc, Service: "kms", Type: "Interface", PrivateDNS: true},
	{ID: "vpce-0c5c000000000000b", Vpc: EndpointsVpc, Service: "kms", Type: "Interface"},
	{ID: "vpce-0ec5000000000000a", Vpc: EndpointsVpc, Service: "ecs", Type: "Interface", PrivateDNS: true,
		Tags: map[string]string{"project": "ecs-api", "stack": "dev", "managed-by": "pulumi"}},
	{ID: "vpce-0f1e00000000000a1", Vpc: ExistingVpc, Service: "vpce-svc-0firewall", Type: "GatewayLoadBalancer"},
	{ID: "vpce-0f1e00000000000b1", Vpc: ExistingVpc, Service: "vpce-svc-0firewall", Type: "GatewayLoadBalancer"},
	{ID: "vpce-0f1e00000000000a2", Vpc: ExistingVpc, Service: "vpce-svc-0firewall", Type: "GatewayLoadBalancer"},
}

// filterValues are an invoke's filters, by name.
func filterValues(args resource.PropertyMap) map[string][]string {
	out := map[string][]string{}
	if v, ok := args["filters"]; ok && v.IsArray() {
		for _, f := range v.ArrayValue() {
			name := f.ObjectValue()["name"].StringValue()
			for _, value := range f.ObjectValue()["values"].ArrayValue() {
				out[name] = append(out[name], value.StringValue())
			}
		}
	}
	return out
}

// argString is an invoke argument's string value, "" when absent.
func argString(args resource.PropertyMap, key string) string {
	if v, ok := args[resource.PropertyKey(key)]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

// accepts reports whether a filter (absent: any value) admits a value.
func accepts(values []string, value string) bool {
	if values == nil {
		return true
	}
	for _, v := range values {
		if v == value {
			return true
		}
	}
	return false
}

// vpcEndpoint answers getVpcEndpoint as the data source does: exactly one match, or "no matching" /
// "multiple ... matched" (terraform-provider-aws tfresource.SingularDataSourceFindError).
func vpcEndpoint(args resource.PropertyMap) (resource.PropertyMap, error) {
	filters := filterValues(args)
	var matches []ExistingEndpoint
	for _, ep := range ExistingEndpoints {
		tagged := true
		if v, ok := args["tags"]; ok && v.IsObject() {
			for k, want := range v.ObjectValue() {
				tagged = tagged && ep.Tags[string(k)] == want.StringValue()
			}
		}
		if (argString(args, "id") == "" || ep.ID == argString(args, "id")) &&
			(argString(args, "vpcId") == "" || ep.Vpc == argString(args, "vpcId")) &&
			(argString(args, "serviceName") == "" || ep.ServiceName() == argString(args, "serviceName")) &&
			accepts(filters["vpc-endpoint-type"], ep.Type) && accepts(filters["vpc-endpoint-state"], "available") && tagged {
			matches = append(matches, ep)
		}
	}
	switch {
	case len(matches) == 0:
		return nil, fmt.Errorf("no matching EC2 VPC Endpoint found")
	case len(matches) > 1:
		return nil, fmt.Errorf("multiple EC2 VPC Endpoints matched; use additional constraints to reduce matches to a single EC2 VPC Endpoint")
	}
	ep, str := matches[0], resource.NewStringProperty
	tags := resource.PropertyMap{}
	for k, v := range ep.Tags {
		tags[resource.PropertyKey(k)] = str(v)
	}
	var tables []resource.PropertyValue
	for _, rt := range ep.RouteTables {
		tables = append(tables, str(rt))
	}
	out := resource.PropertyMap{
		"id": str(ep.ID), "vpcId": str(ep.Vpc), "serviceName": str(ep.ServiceName()), "vpcEndpointType": str(ep.Type),
		"state": str("available"), "privateDnsEnabled": resource.NewBoolProperty(ep.PrivateDNS),
		"routeTableIds": resource.NewArrayProperty(tables), "tags": resource.NewObjectProperty(tags),
	}
	if ep.Type == "Gateway" {
		out["prefixListId"] = str(S3PrefixList)
	}
	return out, nil
}

// ChinaPrefixedEndpoints are the services whose endpoint service is cn.com.amazonaws.<region>.<service>
// in China, as DescribeVpcEndpointServices lists them there (aws-cdk#25333: "cn.com.amazonaws.
// cn-northwest-1.ecr.api", "cn.com.amazonaws.cn-northwest-1.ecr.dkr"...); CloudWatch Logs and the S3
// gateway keep com.amazonaws.<region>.<service>.
var ChinaPrefixedEndpoints = map[string]bool{"ecr.api": true, "ecr.dkr": true}

// endpointServiceByFilter answers getVpcEndpointService by a service-name filter: the candidate
// names that exist in their region, of which there must be exactly one.
func endpointServiceByFilter(args resource.PropertyMap) (resource.PropertyMap, error) {
	var found []string
	for _, name := range filterValues(args)["service-name"] {
		china := strings.HasPrefix(name, "cn.com.amazonaws.")
		rest := strings.TrimPrefix(strings.TrimPrefix(name, "cn."), "com.amazonaws.")
		region, service, _ := strings.Cut(rest, ".")
		prefixed := strings.HasPrefix(region, "cn-") && ChinaPrefixedEndpoints[service]
		if china == prefixed {
			found = append(found, name)
		}
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("no matching EC2 VPC Endpoint Service found")
	case len(found) > 1:
		return nil, fmt.Errorf("multiple EC2 VPC Endpoint Services matched; use additional constraints to reduce matches to a single EC2 VPC Endpoint Service")
	}
	return resource.PropertyMap{"serviceName": resource.NewStringProperty(found[0]), "serviceType": args["serviceType"]}, nil
}

// prefixList answers getPrefixList by name: the S3 prefix list.
func prefixList(args resource.PropertyMap) (resource.PropertyMap, error) {
	name := argString(args, "name")
	if !strings.HasSuffix(name, ".s3") {
		return nil, fmt.Errorf("no matching EC2 Prefix List found")
	}
	return resource.PropertyMap{"id": resource.NewStringProperty(S3PrefixList), "prefixListId": resource.NewStringProperty(S3PrefixList),
		"name": resource.NewStringProperty(name)}, nil
}

// mockRoute and mockTable model the existing VPCs' route tables for DescribeRouteTables' filters.
type mockRoute struct{ destination, target, state string }

type mockTable struct {
	id, vpc string
	routes  []mockRoute
}

// mockTables are the existing subnets' own route tables and ExistingVpc's main one, with the S3
// endpoints' prefix-list routes.
func mockTables() []mockTable {
	tables := []mockTable{{id: "rtb-main", vpc: ExistingVpc, routes: []mockRoute{{"0.0.0.0/0", "nat-main", "active"}}}}
	ids := make([]string, 0, len(ExistingSubnets))
	for id := range ExistingSubnets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		sub := ExistingSubnets[id]
		if sub.MainTable || sub.LookupFails {
			continue
		}
		t := mockTable{id: "rtb-" + strings.TrimPrefix(id, "subnet-"), vpc: cmpOr(sub.Vpc, ExistingVpc),
			routes: []mockRoute{{"10.50.0.0/16", "local", "active"}}}
		target := "nat-0123456789abcdef0"
		switch {
		case sub.Route[0] != "":
			target = sub.Route[1]
		case sub.Propagated:
			target = "vgw-0123456789abcdef0"
		case sub.Public:
			target = "igw-0123456789abcdef0"
		case sub.NoRoute:
			target = ""
		}
		if target != "" {
			state := "active"
			if goneTargets[target] {
				state = "blackhole"
			}
			t.routes = append(t.routes, mockRoute{"0.0.0.0/0", target, state})
		}
		if sub.StaleRoute {
			t.routes = append(t.routes, mockRoute{"10.99.0.0/16", "pcx-0dead0000000000001", "blackhole"})
		}
		for _, ep := range ExistingEndpoints {
			for _, rt := range ep.RouteTables {
				if rt == t.id {
					t.routes = append(t.routes, mockRoute{S3PrefixList, ep.ID, "active"})
				}
			}
		}
		tables = append(tables, t)
	}
	return tables
}

// routeTables answers getRouteTables: the ids of the tables that match every filter, each route.*
// filter by any one route of the table, as EC2 applies them.
func routeTables(args resource.PropertyMap) resource.PropertyMap {
	filters := filterValues(args)
	var ids []resource.PropertyValue
	for _, t := range mockTables() {
		match := (argString(args, "vpcId") == "" || t.vpc == argString(args, "vpcId")) && accepts(filters["route-table-id"], t.id)
		for name, values := range filters {
			if !strings.HasPrefix(name, "route.") {
				continue
			}
			hit := false
			for _, r := range t.routes {
				switch name {
				case "route.destination-cidr-block", "route.destination-prefix-list-id":
					hit = hit || accepts(values, r.destination)
				case "route.state":
					hit = hit || accepts(values, r.state)
				}
			}
			match = match && hit
		}
		if match {
			ids = append(ids, resource.NewStringProperty(t.id))
		}
	}
	return resource.PropertyMap{"id": resource.NewStringProperty(Region), "ids": resource.NewArrayProperty(ids)}
}

// routeTarget answers the lookups of a route's target: a NAT gateway, an instance, a network
// interface, an internet gateway (by id, or by the VPC it is attached to); goneTargets are deleted
// or detached.
func routeTarget(token string, args resource.PropertyMap) (resource.PropertyMap, error) {
	str := resource.NewStringProperty
	id := cmpOr(argString(args, "id"), cmpOr(argString(args, "instanceId"), argString(args, "internetGatewayId")))
	if ownerTargets[id] {
		return nil, fmt.Errorf("no matching EC2 %s found", token)
	}
	gone := goneTargets[id]
	switch token {
	case "aws:ec2/getNatGateway:getNatGateway":
		state := "available"
		if gone {
			state = "deleted"
		}
		return resource.PropertyMap{"id": str(id), "state": str(state)}, nil
	case "aws:ec2/getInstance:getInstance":
		state := "running"
		if gone {
			state = "terminated"
		}
		return resource.PropertyMap{"id": str(id), "instanceState": str(state)}, nil
	case "aws:ec2/getNetworkInterface:getNetworkInterface":
		var attachments []resource.PropertyValue
		if !gone {
			attachments = append(attachments, resource.NewObjectProperty(resource.PropertyMap{"instanceId": str("i-0123456789abcdef0")}))
		}
		return resource.PropertyMap{"id": str(id), "attachments": resource.NewArrayProperty(attachments)}, nil
	}
	vpc := ExistingVpc
	if attached := filterValues(args)["attachment.vpc-id"]; len(attached) > 0 {
		if attached[0] == SharedVpc {
			return nil, fmt.Errorf("no matching EC2 Internet Gateway found") // the owner's
		}
		vpc, id = attached[0], "igw-0123456789abcdef0"
	}
	var attachments []resource.PropertyValue
	if !gone {
		attachments = append(attachments, resource.NewObjectProperty(resource.PropertyMap{"vpcId": str(vpc), "state": str("available")}))
	}
	return resource.PropertyMap{"id": str(id), "internetGatewayId": str(id), "attachments": resource.NewArrayProperty(attachments)}, nil
}
