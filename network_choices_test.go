package main

// Network choices over every stack file: a created VPC with NAT gateways, NAT instances or no NAT
// and endpoints; an existing VPC with its own NAT or endpoints only. What each creates, routes and
// admits, and that an existing VPC is never created or changed.

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const (
	vpcType      = "awsx:ec2:Vpc"
	endpointType = "aws:ec2/vpcEndpoint:VpcEndpoint"
	asgType      = "aws:autoscaling/group:Group"
	ltType       = "aws:ec2/launchTemplate:LaunchTemplate"
)

// natGroups are the NAT instances' Auto Scaling groups.
func natGroups(m *pulumitest.Mocks) []*pulumitest.Resource {
	var out []*pulumitest.Resource
	for _, g := range m.OfType(asgType) {
		if strings.Contains(g.Name, "-nat-") {
			out = append(out, g)
		}
	}
	return out
}

// privateRouteTables are the route tables of the stack's private subnets, as the mocks' lookups
// name them (the subnet's own table, or the VPC's main one).
func privateRouteTables(m *pulumitest.Mocks, subnets []string) []string {
	var out []string
	for _, id := range subnets {
		rt := "rtb-" + strings.TrimPrefix(id, "subnet-")
		if pulumitest.ExistingSubnets[id].MainTable {
			rt = "rtb-main"
		}
		if !slices.Contains(out, rt) {
			out = append(out, rt)
		}
	}
	return out
}

// TestEveryNetworkChoiceRoutesTheInstancesOut checks, for every stack file and network choice, where
// the instances' traffic goes and what admits it.
func TestEveryNetworkChoiceRoutesTheInstancesOut(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		c := loadedConfig(t, stack, v)
		n := c.Network
		cluster := m.Named(asgType, "cluster-asg")
		g := newGraph(m)
		waits := g.waitsFor(cluster)

		var private, public []string
		if n.Existing() {
			// Nothing of an existing VPC is created or changed.
			for _, typ := range []string{vpcType, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:ec2/flowLog:FlowLog",
				"aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/route:Route", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable"} {
				if k := len(m.OfType(typ)); k != 0 {
					t.Errorf("an existing VPC, yet %d %s", k, typ)
				}
			}
			private, public = n.Settings.PrivateSubnetIDs, n.Settings.PublicSubnetIDs
			if got := m.Exports["vpcId"]; got != n.Settings.VpcID {
				t.Errorf("vpcId output %v, want %s", got, n.Settings.VpcID)
			}
		} else {
			vpc := one(t, m, vpcType)
			wantStrategy := map[string]string{config.NatSingle: "Single", config.NatOnePerAz: "OnePerAz", config.NatInstance: "None", config.NatNone: "None"}[n.NatGateways]
			if got := vpc.Str("natGateways.strategy"); got != wantStrategy {
				t.Errorf("natGateways %s: awsx strategy %q, want %q", n.NatGateways, got, wantStrategy)
			}
			private, public = vpc.OutStrs("privateSubnetIds"), vpc.OutStrs("publicSubnetIds")
		}
		if got := cluster.Strs("vpcZoneIdentifiers"); strings.Join(got, ",") != strings.Join(private, ",") {
			t.Errorf("instances in %v, want the private subnets %v", got, private)
		}
		if got := one(t, m, "aws:lb/loadBalancer:LoadBalancer").Strs("subnets"); strings.Join(got, ",") != strings.Join(public, ",") {
			t.Errorf("load balancer in %v, want the public subnets %v", got, public)
		}

		// The S3 gateway endpoint always serves every private route table: image layers come from S3.
		endpoints := map[string]*pulumitest.Resource{}
		for _, ep := range m.OfType(endpointType) {
			service := strings.TrimPrefix(ep.Str("serviceName"), "com.amazonaws."+pulumitest.Region+".")
			endpoints[service] = ep
		}
		s3 := endpoints["s3"]
		if s3 == nil || s3.Str("vpcEndpointType") != "Gateway" {
			t.Fatal("no S3 gateway endpoint")
		}
		if got, want := sorted(s3.Strs("routeTableIds")), sorted(privateRouteTables(m, private)); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("S3 endpoint on route tables %v, want the private ones %v", got, want)
		}
		if !waits[s3.URN] {
			t.Error("the instances can start before the S3 endpoint exists")
		}

		// Interface endpoints: exactly the configured ones, in one private subnet per AZ, behind a
		// group that admits the instances' group on 443 and nothing else; the instances wait for them.
		if len(endpoints)-1 != len(n.Settings.Endpoints) {
			t.Errorf("%d interface endpoints, want %v", len(endpoints)-1, n.Settings.Endpoints)
		}
		for _, service := range n.Settings.Endpoints {
			ep := endpoints[service]
			if ep == nil {
				t.Errorf("no %s endpoint", service)
				continue
			}
			if ep.Str("vpcEndpointType") != "Interface" || !ep.Bool("privateDnsEnabled") || ep.Len("securityGroupIds") != 1 || !waits[ep.URN] {
				t.Errorf("%s endpoint %v (the instances wait for it: %v)", service, ep.Inputs, waits[ep.URN])
			}
			azs := map[string]bool{}
			for _, id := range ep.Strs("subnetIds") {
				az := pulumitest.ExistingSubnets[id].AZ
				if az == "" {
					az = id // awsx's subnets, one per AZ by construction
				}
				if azs[az] || !slices.Contains(private, id) {
					t.Errorf("%s endpoint in %s: not one private subnet per AZ", service, id)
				}
				azs[az] = true
			}
		}
		if len(n.Settings.Endpoints) > 0 {
			sg := m.Named("aws:ec2/securityGroup:SecurityGroup", "network-endpoints-sg")
			// Private DNS answers for the whole VPC: the endpoints admit its addresses on 443.
			vpcCidr := n.CIDR
			if n.Existing() {
				vpcCidr = "10.50.0.0/16" // pulumitest's existing VPCs
			}
			var rules []string
			for _, r := range m.OfType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
				if r.Str("securityGroupId") == sg.Out("id") {
					rules = append(rules, r.Str("referencedSecurityGroupId")+r.Str("cidrIpv4")+":"+itoa(int(r.Num("fromPort")))+"-"+itoa(int(r.Num("toPort"))))
					if !waits[r.URN] {
						t.Error("the instances can start before they may reach the endpoints")
					}
				}
			}
			if want := vpcCidr + ":443-443"; strings.Join(rules, ",") != want {
				t.Errorf("endpoint group admits %v, want only %s", rules, want)
			}
		}

		// NAT instances: one, or one per AZ, each routing exactly its route tables through itself.
		nats := natGroups(m)
		wantNats := 0
		if n.NatGateways == config.NatInstance && !n.Existing() {
			wantNats = 1
			if n.Settings.NatInstancePerAz {
				wantNats = n.AZCount
			}
		}
		if len(nats) != wantNats {
			t.Fatalf("%d NAT instances, want %d", len(nats), wantNats)
		}
		tables := privateRouteTables(m, private)
		for i, nat := range nats {
			if !waits[nat.URN] {
				t.Errorf("the instances can start before NAT instance %s", nat.Name)
			}
			if nat.Num("minSize") != 1 || nat.Num("desiredCapacity") != 1 || nat.Num("maxSize") != 2 || strings.Join(nat.Strs("vpcZoneIdentifiers"), ",") != public[i] {
				t.Errorf("%s: %v-%v instances in %v, want one in %s", nat.Name, nat.Num("minSize"), nat.Num("maxSize"), nat.Strs("vpcZoneIdentifiers"), public[i])
			}
			serves := tables
			if n.Settings.NatInstancePerAz {
				serves = tables[i : i+1]
			}
			lt := m.Named(ltType, nat.Name+"-lt")
			script, _ := base64.StdEncoding.DecodeString(lt.Str("userData"))
			if !strings.Contains(string(script), "for RT in "+strings.Join(serves, " ")+"; do") ||
				!strings.Contains(string(script), "--no-source-dest-check") || !strings.Contains(string(script), "MASQUERADE") {
				t.Errorf("%s does not route %v through itself:\n%s", nat.Name, serves, script)
			}
			if lt.Str("metadataOptions.httpTokens") != "required" || lt.Str("blockDeviceMappings.0.ebs.encrypted") != "true" ||
				lt.Str("networkInterfaces.0.associatePublicIpAddress") != "true" || lt.Has("keyName") {
				t.Errorf("%s launch template %v", nat.Name, lt.Inputs)
			}
			var doc infra.PolicyDocument
			if err := m.Named("aws:iam/rolePolicy:RolePolicy", nat.Name+"-routing").JSON("policy", &doc); err != nil {
				t.Fatal(err)
			}
			var routeArns []string
			for _, rt := range serves {
				routeArns = append(routeArns, "arn:aws:ec2:"+pulumitest.Region+":"+pulumitest.Account+":route-table/"+rt)
			}
			for _, st := range doc.Statement {
				if slices.Contains(st.Action, "ec2:ReplaceRoute") && strings.Join(st.Resource, ",") != strings.Join(routeArns, ",") {
					t.Errorf("%s may route %v, want exactly %v", nat.Name, st.Resource, routeArns)
				}
				if slices.Contains(st.Action, "ec2:ModifyInstanceAttribute") && st.Condition["StringEquals"]["aws:ResourceTag/"+infra.NatInstanceTag] != m.Project+"/"+stack+"/"+nat.Name {
					t.Errorf("%s may modify instances %v", nat.Name, st.Condition)
				}
			}
		}
		if wantNats > 0 {
			sg := m.Named("aws:ec2/securityGroup:SecurityGroup", "network-nat-sg")
			for _, r := range m.OfType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
				if r.Str("securityGroupId") == sg.Out("id") && (r.Str("cidrIpv4") != n.CIDR || r.Has("referencedSecurityGroupId")) {
					t.Errorf("the NAT instances admit %s%s, want only the VPC's %s", r.Str("cidrIpv4"), r.Str("referencedSecurityGroupId"), n.CIDR)
				}
			}
		}
	})
}

// refusedBeforeAnything: the run failed with an error saying each of want, and registered nothing but
// the provider: the existing network is checked before any resource exists.
func refusedBeforeAnything(t *testing.T, m *pulumitest.Mocks, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the deploy went ahead; want an error saying %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %v\nwant one saying %q", err, w)
		}
	}
	for _, r := range m.Resources() {
		if !strings.HasPrefix(r.Type, "pulumi:providers:") {
			t.Errorf("%s %s registered before the network was checked", r.Type, r.Name)
		}
	}
}

// TestExistingNetworkIsCheckedBeforeAnythingIsCreated: the deploy reads the existing subnets and
// routes through AWS's APIs and refuses, naming the subnet, before registering a resource.
func TestExistingNetworkIsCheckedBeforeAnythingIsCreated(t *testing.T) {
	for _, tc := range []struct {
		name    string
		network map[string]any
		plain   map[string]string
		want    string
	}{
		{"a subnet of another VPC", map[string]any{"privateSubnetIds": []string{"subnet-1a00000000000000a", "subnet-3a00000000000000a"}},
			nil, "network.privateSubnetIds: subnet-3a00000000000000a is in vpc-0f0f0f0f0f0f0f0f0"},
		{"a subnet that does not exist", map[string]any{"publicSubnetIds": []string{"subnet-0a00000000000000a", "subnet-0e00000000000000e"}},
			nil, "network.publicSubnetIds: subnet-0e00000000000000e cannot be read"},
		{"one availability zone", map[string]any{"publicSubnetIds": []string{"subnet-0a00000000000000a", "subnet-0b00000000000000b"},
			"privateSubnetIds": []string{"subnet-1a00000000000000a", "subnet-2a00000000000000a"}}, nil, "network.privateSubnetIds: span 1 availability zone(s)"},
		{"a private subnet where no public one is", map[string]any{"privateSubnetIds": []string{"subnet-1a00000000000000a", "subnet-4d00000000000000d"}},
			nil, "subnet-4d00000000000000d is in us-east-1d, where no public subnet is"},
		{"a public subnet as private", map[string]any{"publicSubnetIds": []string{"subnet-0a00000000000000a", "subnet-0b00000000000000b"},
			"privateSubnetIds": []string{"subnet-1a00000000000000a", "subnet-0c00000000000000c"}}, nil, "subnet-0c00000000000000c routes 0.0.0.0/0 to an internet gateway"},
		{"a private subnet as public", map[string]any{"publicSubnetIds": []string{"subnet-0a00000000000000a", "subnet-1b00000000000000b"},
			"privateSubnetIds": []string{"subnet-1a00000000000000a", "subnet-1c00000000000000c"}},
			nil, "network.publicSubnetIds: subnet-1b00000000000000b does not route 0.0.0.0/0 to an internet gateway"},
		{"no route and no endpoints", map[string]any{"privateSubnetIds": []string{"subnet-2a00000000000000a", "subnet-2b00000000000000b"}},
			nil, "subnet-2a00000000000000a has no route to the internet, so the tasks reach AWS only through VPC endpoints, and network.endpoints lacks"},
		{"no route, endpoints, image outside ECR", map[string]any{"privateSubnetIds": []string{"subnet-2a00000000000000a", "subnet-2b00000000000000b"}, "endpoints": noNatEndpoints},
			nil, "the image must be in ECR in us-east-1"},
		{"endpoints in a VPC without DNS", map[string]any{"vpcId": pulumitest.NoDNSVpc, "endpoints": []string{"logs"}},
			nil, "network.vpcId: vpc-0d0d0d0d0d0d0d0d0 has enableDnsSupport false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			network := ownVpc(false)
			for k, v := range tc.network {
				network[k] = v
			}
			project, cfg := variantConfig(t, "dev", variant{objects: map[string]map[string]any{"network": network}, plain: tc.plain})
			m, err := pulumitest.Run(project, "dev", cfg, program)
			refusedBeforeAnything(t, m, err, tc.want)
		})
	}
}

// TestNatInstanceUserDataIsTheDocumentedSetup keeps the NAT instance's boot script to AWS's steps
// ("NAT instances", VPC User Guide) and IMDSv2.
func TestNatInstanceUserDataIsTheDocumentedSetup(t *testing.T) {
	script := infra.NatUserData([]string{"rtb-1", "rtb-2"})
	for _, want := range []string{
		"#!/bin/bash", "set -euo pipefail", "X-aws-ec2-metadata-token-ttl-seconds", "dnf install -y iptables-services",
		"net.ipv4.ip_forward = 1", `iptables -t nat -A POSTROUTING -o "$IFACE" -j MASQUERADE`, "iptables -F FORWARD",
		"iptables-save > /etc/sysconfig/iptables", "systemctl enable --now iptables", "--no-source-dest-check",
		"for RT in rtb-1 rtb-2; do", "replace-route", "create-route",
		// A route taken away (a deploy deleting a NAT gateway's route) comes back within a minute.
		"OnUnitActiveSec=60", "systemctl enable --now nat-routes.timer",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("user data lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "169.254.169.254/latest/meta-data") && !strings.Contains(script, "X-aws-ec2-metadata-token:") {
		t.Error("user data reads IMDS without a session token: IMDSv2 refuses it")
	}
	raw, _ := json.Marshal(script)
	if len(raw) > 16*1024 {
		t.Errorf("user data of %d bytes: EC2 allows 16 KB", len(raw))
	}
}

// TestNatInstanceScriptsPassShellcheck lints the boot script and the route keeper it installs, when
// shellcheck is installed (.ci/run installs it).
func TestNatInstanceScriptsPassShellcheck(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not installed")
	}
	script := infra.NatUserData([]string{"rtb-1", "rtb-2"})
	start := strings.Index(script, "<<'SCRIPT'\n")
	end := strings.Index(script, "\nSCRIPT\n")
	if start < 0 || end < start {
		t.Fatal("no route keeper script in the user data")
	}
	inner := script[start+len("<<'SCRIPT'\n") : end+1]
	dir := t.TempDir()
	for name, body := range map[string]string{"user-data.sh": script, "nat-routes.sh": inner} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(shellcheck, path).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", name, err, out)
		}
	}
}
