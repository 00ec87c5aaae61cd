package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Egress choices of the private subnets (key `natGateways`).
const (
	NatSingle   = "Single"   // one NAT gateway
	NatOnePerAz = "OnePerAz" // a NAT gateway per AZ: survives an AZ outage
	NatInstance = "Instance" // a small NAT instance (one, or one per AZ with network.natInstancePerAz)
	NatNone     = "None"     // no internet egress: VPC endpoints only
)

// NetworkSettings are the `network` key: an existing VPC to deploy into instead of creating one,
// the VPC endpoints to create, and the NAT instance's shape.
type NetworkSettings struct {
	// VpcID, PublicSubnetIDs and PrivateSubnetIDs name an existing VPC: nothing of it is created or
	// changed, and vpcCidr, azCount and natGateways do not apply.
	VpcID            string   `json:"vpcId"`
	PublicSubnetIDs  []string `json:"publicSubnetIds"`
	PrivateSubnetIDs []string `json:"privateSubnetIds"`
	// FlowLogs on an existing VPC (a created one always has them): off unless asked, it is not ours.
	FlowLogs bool `json:"flowLogs"`
	// Endpoints are the interface VPC endpoints the tasks and instances use, by service (ecr.api,
	// logs...), besides an S3 gateway endpoint for image layers. In an existing VPC, those the VPC has
	// already are used as they are and only the missing ones are created (checked at deploy time).
	Endpoints []string `json:"endpoints"`
	// NatInstanceType is the NAT instance's type (natGateways: Instance), t4g.nano by default.
	NatInstanceType string `json:"natInstanceType"`
	// NatInstancePerAz runs a NAT instance in every AZ instead of one for all.
	NatInstancePerAz bool `json:"natInstancePerAz"`
}

// Existing reports whether the stack deploys into a VPC that exists already.
func (n NetworkConfig) Existing() bool { return n.Settings.VpcID != "" }

func defaultNetworkSettings() NetworkSettings {
	return NetworkSettings{NatInstanceType: "t4g.nano"}
}

// InterfaceEndpoints are the services the tasks and instances call that an interface endpoint can
// serve ("AWS services that integrate with AWS PrivateLink"), with what calls each.
var InterfaceEndpoints = map[string]string{
	"ecr.api":        "the ECS agent: sign in to ECR and read image manifests",
	"ecr.dkr":        "the ECS agent and Docker: pull images (their layers come from S3 through the gateway endpoint)",
	"logs":           "the awslogs driver: the containers' logs",
	"secretsmanager": "the ECS agent: secrets at task start (database password, cache token, secrets)",
	"ssm":            "the ECS agent (SSM parameter secrets) and Session Manager on the instances",
	"ssmmessages":    "ECS Exec and Session Manager sessions",
	"ec2messages":    "Session Manager on the instances",
	"ecs":            "the ECS agent: register the instance and report tasks",
	"ecs-agent":      "the ECS agent: its control channel",
	"ecs-telemetry":  "the ECS agent: Container Insights metrics",
	"sts":            "the app, if it assumes roles",
	"kms":            "the app, if it uses KMS keys",
}

// RequiredEndpoints are the interface endpoints a stack cannot run without when its private subnets
// have no way to the internet, each with the reason.
func RequiredEndpoints(c *Config) map[string]string {
	need := map[string]string{
		"ecr.api": "pull the image", "ecr.dkr": "pull the image", "logs": "the containers' logs",
		"ecs": "instances register with the cluster", "ecs-agent": "instances register with the cluster",
		"ecs-telemetry": "Container Insights (ECS.12)",
	}
	for _, ref := range c.Service.Secrets {
		if SecretsManagerARN.MatchString(ref) {
			need["secretsmanager"] = "secrets from Secrets Manager"
		}
		if SSMParameterARN.MatchString(ref) {
			need["ssm"] = "secrets from SSM parameters"
		}
	}
	if c.Database.Enabled {
		need["secretsmanager"] = "the database password"
	}
	if c.Cache.Enabled {
		need["secretsmanager"] = "the cache token"
	}
	if c.Service.EnableExecuteCommand {
		need["ssmmessages"] = "ECS Exec"
	}
	return need
}

var (
	vpcID    = regexp.MustCompile(`^vpc-[0-9a-f]{8}([0-9a-f]{9})?$`)
	subnetID = regexp.MustCompile(`^subnet-[0-9a-f]{8}([0-9a-f]{9})?$`)
)

func validateNetwork(c *Config, fail func(string, string, ...any)) {
	n := c.Network
	s := n.Settings
	switch n.NatGateways {
	case NatSingle, NatOnePerAz, NatInstance, NatNone:
	default:
		fail("natGateways", "must be Single, OnePerAz, Instance or None (got %q)", n.NatGateways)
	}
	seen := map[string]bool{}
	for _, e := range s.Endpoints {
		if _, ok := InterfaceEndpoints[e]; !ok {
			fail("network.endpoints", "%q is not one of %s", e, strings.Join(slices.Sorted(maps.Keys(InterfaceEndpoints)), ", "))
		}
		if seen[e] {
			fail("network.endpoints", "%q is listed twice", e)
		}
		seen[e] = true
	}
	if n.NatGateways == NatInstance && !n.Existing() {
		if shape, err := ParseInstanceType(s.NatInstanceType); err != nil {
			fail("network.natInstanceType", "%v (got %q)", err, s.NatInstanceType)
		} else if shape.VCPUs > 8 {
			fail("network.natInstanceType", "has more than 8 vCPUs, more than a NAT instance needs; at that size a NAT gateway costs less (got %q)", s.NatInstanceType)
		}
	}
	if !n.Existing() {
		if len(s.PublicSubnetIDs)+len(s.PrivateSubnetIDs) > 0 || s.FlowLogs {
			fail("network", "publicSubnetIds, privateSubnetIds and flowLogs describe an existing VPC: set vpcId too")
		}
		between := func(key string, v, lo, hi int) {
			if v < lo || v > hi {
				fail(key, "must be between %d and %d (got %d)", lo, hi, v)
			}
		}
		between("azCount", n.AZCount, 2, 6)
		validateCIDR(n.CIDR, n.AZCount, fail)
	} else {
		if !vpcID.MatchString(s.VpcID) {
			fail("network.vpcId", "must be a VPC id like vpc-0123456789abcdef0 (got %q)", s.VpcID)
		}
		// natGateways does not apply: the stack adds no way out to a VPC it does not own; the VPC's
		// own NAT, firewall, transit gateway or VPN, or the endpoints (the VPC's and the stack's),
		// serve the private subnets (checked at deploy time, where AWS answers).
		ids := map[string]string{}
		for _, list := range []struct {
			key string
			ids []string
		}{{"network.publicSubnetIds", s.PublicSubnetIDs}, {"network.privateSubnetIds", s.PrivateSubnetIDs}} {
			if len(list.ids) < 2 {
				fail(list.key, "must list at least two subnets, in two availability zones (got %d)", len(list.ids))
			}
			for _, id := range list.ids {
				if !subnetID.MatchString(id) {
					fail(list.key, "%q is not a subnet id like subnet-0123456789abcdef0", id)
				}
				if other, dup := ids[id]; dup {
					fail(list.key, "%s is listed again (also in %s)", id, other)
				}
				ids[id] = list.key
			}
		}
		// The deploy checks the rest, where AWS answers: same VPC, two AZs, routes.
		c.Network.AZCount = max(len(s.PrivateSubnetIDs), 2)
	}
	if n.NatGateways == NatNone && !n.Existing() {
		missing := []string{}
		for _, e := range slices.Sorted(maps.Keys(RequiredEndpoints(c))) {
			if !seen[e] {
				missing = append(missing, fmt.Sprintf("%s (%s)", e, RequiredEndpoints(c)[e]))
			}
		}
		if len(missing) > 0 {
			fail("network.endpoints", "natGateways None leaves the private subnets without internet: the tasks and instances reach AWS only through endpoints, and need %s", strings.Join(missing, ", "))
		}
		if repo, ok := ParseECR(c.Service.Image); !ok || repo.Region != c.Region {
			fail("image", "natGateways None reaches no registry but ECR in the stack's region (%s) through its endpoints (got %q)", c.Region, c.Service.Image)
		}
	}
}
