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
		service := args.Args["service"].StringValue()
		return resource.PropertyMap{
			"serviceName": resource.NewStringProperty("com.amazonaws." + Region + "." + service),
			"serviceType": args.Args["serviceType"],
		}, nil
	case "aws:ec2/getVpc:getVpc":
		id := args.Args["id"].StringValue()
		dns := id != NoDNSVpc
		return resource.PropertyMap{
			"id": resource.NewStringProperty(id), "cidrBlock": resource.NewStringProperty("10.50.0.0/16"),
			"enableDnsSupport": resource.NewBoolProperty(dns), "enableDnsHostnames": resource.NewBoolProperty(dns),
		}, nil
	case "aws:ec2/getSubnet:getSubnet":
		id := args.Args["id"].StringValue()
		sub, ok := ExistingSubnets[id]
		if !ok {
			return nil, fmt.Errorf("InvalidSubnetID.NotFound: the subnet ID '%s' does not exist", id)
		}
		return resource.PropertyMap{
			"id": resource.NewStringProperty(id), "vpcId": resource.NewStringProperty(cmpOr(sub.Vpc, ExistingVpc)),
			"availabilityZone": resource.NewStringProperty(sub.AZ),
		}, nil
	case "aws:ec2/getRouteTable:getRouteTable":
		return routeTable(args.Args)
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
