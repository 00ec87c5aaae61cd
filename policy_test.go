package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"

	"github.com/acme/ecs-api/internal/pulumitest"
	"github.com/acme/ecs-api/policy"
	"github.com/acme/ecs-api/policy/controlid"
)

// set writes v at a dotted path of a property map ("a.0.b"); a null v deletes the last key.
func set(pm resource.PropertyMap, path string, v resource.PropertyValue) {
	steps := strings.Split(path, ".")
	cur := resource.NewObjectProperty(pm)
	for i, step := range steps {
		last := i == len(steps)-1
		switch {
		case cur.IsObject():
			obj := cur.ObjectValue()
			key := resource.PropertyKey(step)
			if last {
				if v.IsNull() {
					delete(obj, key)
				} else {
					obj[key] = v
				}
				return
			}
			cur = obj[key]
		case cur.IsArray():
			n, _ := strconv.Atoi(step)
			if last {
				cur.ArrayValue()[n] = v
				return
			}
			cur = cur.ArrayValue()[n]
		}
	}
}

// editContainers rewrites the first container of every task definition.
func editContainers(s *policy.Stack, edit func(c map[string]any)) {
	for _, r := range s.Resources {
		if r.Type != "aws:ecs/taskDefinition:TaskDefinition" {
			continue
		}
		var defs []map[string]any
		_ = json.Unmarshal([]byte(r.Str("containerDefinitions")), &defs)
		edit(defs[0])
		b, _ := json.Marshal(defs)
		set(r.Inputs, "containerDefinitions", resource.NewStringProperty(string(b)))
	}
}

func find(s *policy.Stack, typ, name string) *policy.Resource {
	for _, r := range s.Resources {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	panic("no " + typ + " " + name)
}

func without(s *policy.Stack, typ string) {
	var kept []*policy.Resource
	for _, r := range s.Resources {
		if r.Type != typ {
			kept = append(kept, r)
		}
	}
	s.Resources = kept
}

// addResource appends a resource with the given inputs to the graph.
func addResource(s *policy.Stack, typ, name string, inputs map[string]any) *policy.Resource {
	r := &policy.Resource{Type: typ, Name: name, Inputs: resource.NewPropertyMapFromMap(inputs)}
	r.Outputs = r.Inputs.Copy()
	s.Resources = append(s.Resources, r)
	return r
}

var (
	str  = resource.NewStringProperty
	num  = resource.NewNumberProperty
	bln  = resource.NewBoolProperty
	null = resource.NewNullProperty()
)

const (
	tSG       = "aws:ec2/securityGroup:SecurityGroup"
	tIngress  = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	tLB       = "aws:lb/loadBalancer:LoadBalancer"
	tListener = "aws:lb/listener:Listener"
	tLT       = "aws:ec2/launchTemplate:LaunchTemplate"
	tASG      = "aws:autoscaling/group:Group"
	tTD       = "aws:ecs/taskDefinition:TaskDefinition"
	tService  = "aws:ecs/service:Service"
	tDB       = "aws:rds/instance:Instance"
	tCache    = "aws:elasticache/replicationGroup:ReplicationGroup"
	tRole     = "aws:iam/role:Role"
	tPolicy   = "aws:iam/rolePolicy:RolePolicy"
)

// TestPolicyControlsCatchViolations breaks the prod graph one way per control and expects that
// control, and only after the break, to report it. Every control must have a case: a control that
// cannot fail proves nothing.
func TestPolicyControlsCatchViolations(t *testing.T) {
	sgID := func(s *policy.Stack, name string) string { return find(s, tSG, name).Out("id") }
	rolePolicy := func(s *policy.Stack, doc string) {
		set(find(s, tPolicy, "api-execution-secrets").Inputs, "policy", str(doc))
	}
	cases := map[string]func(s *policy.Stack){
		"EC2.2": func(s *policy.Stack) { without(s, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup") },
		"EC2.6": func(s *policy.Stack) { without(s, "aws:ec2/flowLog:FlowLog") },
		"EC2.15": func(s *policy.Stack) {
			set(find(s, tASG, "cluster-asg").Inputs, "vpcZoneIdentifiers.0", str("subnet-public-0"))
		},
		"EC2.18": func(s *policy.Stack) {
			addResource(s, tIngress, "ssh", map[string]any{"securityGroupId": sgID(s, "web-sg"), "cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22})
		},
		"EC2.19": func(s *policy.Stack) {
			addResource(s, tIngress, "direct", map[string]any{"securityGroupId": sgID(s, "cluster-instances-sg"), "cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443})
		},
		"APP.NET.1": func(s *policy.Stack) {
			set(find(s, tIngress, "db-from-instances").Inputs, "cidrIpv4", str("10.0.0.0/8"))
		},
		"ELB.4":  func(s *policy.Stack) { set(find(s, tLB, "web").Inputs, "dropInvalidHeaderFields", bln(false)) },
		"ELB.12": func(s *policy.Stack) { set(find(s, tLB, "web").Inputs, "desyncMitigationMode", str("monitor")) },
		"ELB.5":  func(s *policy.Stack) { set(find(s, tLB, "web").Inputs, "accessLogs.enabled", bln(false)) },
		"ELB.6":  func(s *policy.Stack) { set(find(s, tLB, "web").Inputs, "enableDeletionProtection", bln(false)) },
		"ELB.13": func(s *policy.Stack) {
			set(find(s, tLB, "web").Inputs, "subnets", resource.NewArrayProperty([]resource.PropertyValue{str("a")}))
		},
		// Waived in prod, so failing already is the point (see TestPolicySuite and TestProdPassesEveryControlOnceConfigured).
		"ELB.1":  func(s *policy.Stack) {},
		"ELB.16": func(s *policy.Stack) {},
		"APP.ELB.1": func(s *policy.Stack) {
			addResource(s, tListener, "tls-without-hsts", map[string]any{"loadBalancerArn": "lb", "protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"})
		},
		"ELB.17": func(s *policy.Stack) {
			addResource(s, tListener, "old-tls", map[string]any{"loadBalancerArn": "lb", "protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"})
		},
		"ELB.18": func(s *policy.Stack) {
			http := find(s, tListener, "web-http")
			addResource(s, tListener, "tls", map[string]any{"loadBalancerArn": http.Str("loadBalancerArn"), "protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"})
		},
		"EC2.8": func(s *policy.Stack) {
			set(find(s, tLT, "cluster-lt").Inputs, "metadataOptions.httpTokens", str("optional"))
		},
		"AutoScaling.4": func(s *policy.Stack) {
			set(find(s, tLT, "cluster-lt").Inputs, "metadataOptions.httpPutResponseHopLimit", num(2))
		},
		"AutoScaling.5": func(s *policy.Stack) {
			set(find(s, tLT, "cluster-lt").Inputs, "networkInterfaces.0.associatePublicIpAddress", str("true"))
		},
		"EC2.3": func(s *policy.Stack) {
			set(find(s, tLT, "cluster-lt").Inputs, "blockDeviceMappings.0.ebs.encrypted", str("false"))
		},
		"AutoScaling.2": func(s *policy.Stack) {
			set(find(s, tASG, "cluster-asg").Inputs, "vpcZoneIdentifiers", resource.NewArrayProperty(nil))
		},
		"AutoScaling.9": func(s *policy.Stack) { set(find(s, tASG, "cluster-asg").Inputs, "launchTemplate", null) },
		"APP.EC2.1": func(s *policy.Stack) {
			set(find(s, tLT, "cluster-lt").Inputs, "userData", str(base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\nDB_PASSWORD=hunter2\n"))))
		},
		"ECS.12": func(s *policy.Stack) {
			set(find(s, "aws:ecs/cluster:Cluster", "cluster").Inputs, "settings.0.value", str("disabled"))
		},
		"ECS.3": func(s *policy.Stack) { set(find(s, tTD, "api-task").Inputs, "networkMode", str("host")) },
		"ECS.4": func(s *policy.Stack) { editContainers(s, func(c map[string]any) { c["privileged"] = true }) },
		"ECS.5": func(s *policy.Stack) {
			editContainers(s, func(c map[string]any) { c["readonlyRootFilesystem"] = false })
		},
		"APP.ECS.1": func(s *policy.Stack) { editContainers(s, func(c map[string]any) { c["user"] = "0:0" }) },
		"ECS.8": func(s *policy.Stack) {
			editContainers(s, func(c map[string]any) {
				c["environment"] = append(c["environment"].([]any), map[string]any{"name": "API_TOKEN", "value": "x"})
			})
		},
		"ECS.9": func(s *policy.Stack) {
			editContainers(s, func(c map[string]any) {
				c["logConfiguration"].(map[string]any)["options"].(map[string]any)["awslogs-group"] = "/somewhere/else"
			})
		},
		"CloudWatch.16": func(s *policy.Stack) {
			set(find(s, "aws:cloudwatch/logGroup:LogGroup", "api-logs").Inputs, "retentionInDays", null)
		},
		"IAM.1": func(s *policy.Stack) { rolePolicy(s, `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`) },
		"IAM.21": func(s *policy.Stack) {
			rolePolicy(s, `{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}`)
		},
		"APP.IAM.1": func(s *policy.Stack) {
			rolePolicy(s, `{"Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)
		},
		"APP.IAM.2": func(s *policy.Stack) {
			set(find(s, tRole, "api-task-role").Inputs, "assumeRolePolicy",
				str(`{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`))
		},
		"APP.IAM.3": func(s *policy.Stack) {
			td := find(s, tTD, "api-task")
			set(td.Inputs, "taskRoleArn", str(td.Str("executionRoleArn")))
		},
		"RDS.2":         func(s *policy.Stack) { set(find(s, tDB, "db").Inputs, "publiclyAccessible", bln(true)) },
		"RDS.3":         func(s *policy.Stack) { set(find(s, tDB, "db").Inputs, "storageEncrypted", bln(false)) },
		"RDS.5":         func(s *policy.Stack) { set(find(s, tDB, "db").Inputs, "multiAz", bln(false)) },
		"RDS.8":         func(s *policy.Stack) { set(find(s, tDB, "db").Inputs, "deletionProtection", bln(false)) },
		"RDS.9":         func(s *policy.Stack) { set(find(s, tDB, "db").Inputs, "enabledCloudwatchLogsExports", null) },
		"RDS.11":        func(s *policy.Stack) { set(find(s, tDB, "db").Inputs, "backupRetentionPeriod", num(3)) },
		"RDS.13":        func(s *policy.Stack) { set(find(s, tDB, "db").Inputs, "autoMinorVersionUpgrade", bln(false)) },
		"APP.RDS.1":     func(s *policy.Stack) { set(find(s, tDB, "db").Inputs, "password", str("hunter2hunter2")) },
		"APP.RDS.2":     func(s *policy.Stack) { set(find(s, tDB, "db").Inputs, "skipFinalSnapshot", bln(true)) },
		"ElastiCache.1": func(s *policy.Stack) { set(find(s, tCache, "cache").Inputs, "snapshotRetentionLimit", num(0)) },
		"ElastiCache.2": func(s *policy.Stack) { set(find(s, tCache, "cache").Inputs, "autoMinorVersionUpgrade", bln(false)) },
		"ElastiCache.3": func(s *policy.Stack) { set(find(s, tCache, "cache").Inputs, "automaticFailoverEnabled", bln(false)) },
		"ElastiCache.4": func(s *policy.Stack) { set(find(s, tCache, "cache").Inputs, "atRestEncryptionEnabled", bln(false)) },
		"ElastiCache.5": func(s *policy.Stack) { set(find(s, tCache, "cache").Inputs, "transitEncryptionEnabled", bln(false)) },
		"ElastiCache.6": func(s *policy.Stack) { set(find(s, tCache, "cache").Inputs, "authToken", null) },
		"ElastiCache.7": func(s *policy.Stack) { set(find(s, tCache, "cache").Inputs, "subnetGroupName", str("default")) },
		"APP.DATA.1":    func(s *policy.Stack) { find(s, tDB, "db").Protect = false },
		"APP.REL.1": func(s *policy.Stack) {
			set(find(s, tService, "api").Inputs, "deploymentCircuitBreaker.rollback", bln(false))
		},
		"APP.REL.2": func(s *policy.Stack) {
			set(find(s, tService, "api").Inputs, "deploymentMinimumHealthyPercent", num(50))
		},
		"APP.REL.3": func(s *policy.Stack) { set(find(s, tService, "api").Inputs, "healthCheckGracePeriodSeconds", num(0)) },
		"APP.REL.4": func(s *policy.Stack) {
			set(find(s, tService, "api").Inputs, "orderedPlacementStrategies.0.field", str("instanceId"))
		},
		"StepFunctions.1": func(s *policy.Stack) {
			set(find(s, "aws:sfn/stateMachine:StateMachine", "jobs-nightly-cleanup").Inputs, "loggingConfiguration.level", str("OFF"))
		},
		"APP.REL.5": func(s *policy.Stack) { set(find(s, tASG, "cluster-asg").Inputs, "minSize", num(1)) },
		"APP.REL.6": func(s *policy.Stack) {
			set(find(s, "aws:ecs/capacityProvider:CapacityProvider", "cluster-capacity").Inputs, "autoScalingGroupProvider.managedScaling.status", str("DISABLED"))
		},
		"APP.REL.7": func(s *policy.Stack) { set(find(s, tService, "api").Inputs, "desiredCount", num(2)) },
		"CloudWatch.15": func(s *policy.Stack) {
			set(find(s, "aws:cloudwatch/metricAlarm:MetricAlarm", "api-5xx-rate").Inputs, "alarmActions", resource.NewArrayProperty(nil))
		},
		"APP.OPS.1": func(s *policy.Stack) {
			set(find(s, "aws:sns/topic:Topic", "alerts").Inputs, "kmsMasterKeyId", str("alias/aws/sns"))
		},
		"APP.IAM.4": func(s *policy.Stack) {
			set(find(s, "aws:iam/rolePolicy:RolePolicy", "api-execution-policy").Inputs, "policy",
				str(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage"],"Resource":["*"]}]}`))
		},
		"ECR.1": func(s *policy.Stack) {
			set(find(s, "aws:ecr/repository:Repository", "images").Inputs, "imageScanningConfiguration.scanOnPush", bln(false))
		},
		"ECR.2": func(s *policy.Stack) {
			set(find(s, "aws:ecr/repository:Repository", "images").Inputs, "imageTagMutability", str("MUTABLE"))
		},
		"ECR.3": func(s *policy.Stack) { without(s, "aws:ecr/lifecyclePolicy:LifecyclePolicy") },
		"SQS.1": func(s *policy.Stack) {
			set(find(s, "aws:sqs/queue:Queue", "db-rotation-reconcile-dlq").Inputs, "sqsManagedSseEnabled", bln(false))
		},
		"APP.NET.2": func(s *policy.Stack) {
			// A NAT instance someone gave a key pair.
			lt := find(s, tLT, "cluster-lt")
			set(lt.Inputs, "tags", resource.NewObjectProperty(resource.PropertyMap{"nat-instance": str("network-nat-1")}))
			set(lt.Inputs, "keyName", str("ops"))
		},
		"KMS.4": func(s *policy.Stack) {
			set(find(s, "aws:kms/key:Key", "alerts-key").Inputs, "enableKeyRotation", bln(false))
		},
	}

	for _, c := range policy.Controls() {
		if _, ok := cases[c.ID]; !ok {
			t.Errorf("control %s has no violation case", c.ID)
		}
	}
	reported := func(res policy.Result, id string) bool {
		for _, v := range res.Violations {
			if v.Control == id {
				return true
			}
		}
		return false
	}
	baseline, err := policy.Evaluate(policyStack("prod", runStack(t, "prod")), nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, breakIt := range cases {
		t.Run(id, func(t *testing.T) {
			if id != "ELB.1" && id != "ELB.16" && reported(baseline, id) {
				t.Fatalf("%s fails before the break: %v", id, baseline.Violations)
			}
			s := policyStack("prod", runStack(t, "prod"))
			breakIt(s)
			res, err := policy.Evaluate(s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reported(res, id) {
				t.Errorf("%s did not report the break; got %v", id, res.Violations)
			}
		})
	}
}

func TestPolicyWaivers(t *testing.T) {
	s := policyStack("prod", runStack(t, "prod"))
	if _, err := policy.Evaluate(s, map[string]string{"ELB.99": "typo"}); err == nil || !strings.Contains(err.Error(), "ELB.99") {
		t.Errorf("unknown waiver id: error %v", err)
	}
	res, err := policy.Evaluate(s, map[string]string{"ELB.1": "no certificate yet", "ELB.16": "no web ACL yet", "RDS.2": "never needed"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Waived["ELB.1"]) != 1 || len(res.Waived["ELB.16"]) != 1 || len(res.Violations) != 0 {
		t.Errorf("waived %v, violations %v", res.Waived, res.Violations)
	}
	if strings.Join(res.Unused, ",") != "RDS.2" {
		t.Errorf("unused waivers %v, want RDS.2", res.Unused)
	}
	dev := policyStack("dev", runStack(t, "dev"))
	if res, _ := policy.Evaluate(dev, nil); len(res.Violations) != 0 {
		t.Errorf("production-only controls ran on dev: %v", res.Violations)
	}
}

// TestProdPassesEveryControlOnceConfigured shows what prod's waivers stand for: with a certificate and
// a web ACL configured, the prod graph meets every control with no waiver at all.
func TestProdPassesEveryControlOnceConfigured(t *testing.T) {
	for name, https := range map[string][2]string{
		"certificate": {"certificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"},
		"domain":      {"domain", `{"name":"api.example.com","zoneName":"example.com","aliases":["www.example.com"]}`},
	} {
		t.Run(name, func(t *testing.T) {
			project, cfg, err := pulumitest.StackConfig(".", "prod")
			if err != nil {
				t.Fatal(err)
			}
			cfg["ecs-api:webAclArn"] = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/api/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
			cfg["ecs-api:"+https[0]] = https[1]
			m, _ := evaluate(t, project, "prod", cfg, nil)
			if name == "domain" && (m.Exports["url"] != "https://api.example.com" || len(m.OfType("aws:acm/certificate:Certificate")) != 1) {
				t.Errorf("prod with a domain serves %v", m.Exports["url"])
			}
		})
	}
}

// TestTrustControlKnowsEveryRoleKind: APP.IAM.2 must know which service uses the roles of the job
// state machines, their schedules and the rotation's event target, or a role trusting the wrong
// service passes unseen.
func TestTrustControlKnowsEveryRoleKind(t *testing.T) {
	for role, wrong := range map[string]string{
		"jobs-nightly-cleanup-run-role":       "scheduler.amazonaws.com",
		"jobs-nightly-cleanup-scheduler-role": "states.amazonaws.com",
		"db-rotation-sfn-role":                "events.amazonaws.com",
		"db-rotation-events-role":             "states.amazonaws.com",
	} {
		s := policyStack("prod", runStack(t, "prod"))
		set(find(s, tRole, role).Inputs, "assumeRolePolicy",
			str(`{"Statement":[{"Effect":"Allow","Principal":{"Service":"`+wrong+`"},"Action":"sts:AssumeRole"}]}`))
		res, err := policy.Evaluate(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, v := range res.Violations {
			found = found || (v.Control == "APP.IAM.2" && strings.Contains(v.String(), role))
		}
		if !found {
			t.Errorf("%s trusting %s is not reported: %v", role, wrong, res.Violations)
		}
	}
}

// TestProdDomainBlockWorksOnceUncommented does what the ELB.1 waiver tells a user to do: uncomment
// the domain block in Pulumi.prod.yaml and delete the waiver. Then every control holds (ELB.16 keeps
// its own waiver) and the stack serves HTTPS on the name.
func TestProdDomainBlockWorksOnceUncommented(t *testing.T) {
	raw, err := os.ReadFile("Pulumi.prod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "  # ecs-api:domain:"):
			block = append(block, "ecs-api:domain:")
		case len(block) > 0 && strings.HasPrefix(line, "  #   "):
			block = append(block, strings.TrimPrefix(line, "  # "))
		case len(block) > 0:
			goto parsed
		}
	}
parsed:
	var values map[string]any
	if err := yaml.Unmarshal([]byte(strings.Join(block, "\n")), &values); err != nil || values["ecs-api:domain"] == nil {
		t.Fatalf("Pulumi.prod.yaml has no commented domain block to uncomment (%v): %q", err, block)
	}
	domain, _ := json.Marshal(values["ecs-api:domain"])
	project, cfg, err := pulumitest.StackConfig(".", "prod")
	if err != nil {
		t.Fatal(err)
	}
	cfg["ecs-api:domain"] = string(domain)
	waivers := map[string]string{}
	if err := json.Unmarshal([]byte(cfg["ecs-api:policyWaivers"]), &waivers); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(waivers["ELB.1"], "ecs-api:domain") {
		t.Errorf("the ELB.1 waiver does not say which lines to set: %q", waivers["ELB.1"])
	}
	delete(waivers, "ELB.1")
	w, _ := json.Marshal(waivers)
	cfg["ecs-api:policyWaivers"] = string(w)
	m, res := evaluate(t, project, "prod", cfg, waivers)
	if len(res.Unused) != 0 {
		t.Errorf("waivers left with nothing to waive: %v", res.Unused)
	}
	if m.Exports["url"] != "https://api.example.com" {
		t.Errorf("url %v, want https on the domain", m.Exports["url"])
	}
}

// TestControlIDsNameTheCatalog keeps controlid, which config checks waivers against without the
// Pulumi SDK, equal to the suite's catalog.
func TestControlIDsNameTheCatalog(t *testing.T) {
	var ids []string
	for _, c := range policy.Controls() {
		ids = append(ids, c.ID)
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != strings.Join(controlid.All, ",") {
		t.Errorf("policy/controlid.All is %v\nthe catalog has %v", controlid.All, ids)
	}
}

// evaluate runs the program with cfg and the policy suite over its graph, failing the test with
// every violation no waiver covers.
func evaluate(t *testing.T, project, stack string, cfg, waivers map[string]string) (*pulumitest.Mocks, policy.Result) {
	t.Helper()
	m, err := pulumitest.Run(project, stack, cfg, program)
	if err != nil {
		t.Fatal(err)
	}
	res, err := policy.Evaluate(policyStack(stack, m), waivers)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Violations {
		t.Errorf("%s", v)
	}
	return m, res
}

// TestEndpointGroupsAdmitOnlyTheVpcsOwnCidrs: review R8. APP.NET.1 exempted any non-internet
// source on 443 into the interface endpoints' group, so a rule from 10.0.0.0/8 (or a prefix list)
// passed as "the VPC". Now only the VPC's own CIDR blocks pass: the created VPC's cidrBlock, or in an
// existing VPC the rules the stack tags as the VPC's block (infra.VpcCidrTag), with that block.
func TestEndpointGroupsAdmitOnlyTheVpcsOwnCidrs(t *testing.T) {
	for _, v := range []variant{
		{name: "created", plain: map[string]string{"natGateways": "None", "image": ecrImage},
			objects: map[string]map[string]any{"network": {"endpoints": noNatEndpoints}}},
		{name: "existing", plain: map[string]string{"image": ecrImage}, objects: map[string]map[string]any{"network": ownVpc(true)}},
	} {
		for _, src := range []map[string]any{{"cidrIpv4": "10.0.0.0/8"}, {"prefixListId": "pl-0123456789abcdef0"}} {
			t.Run(v.name+"/"+fmt.Sprint(src), func(t *testing.T) {
				project, cfg := variantConfig(t, "prod", v)
				m, err := pulumitest.Run(project, "prod", cfg, program)
				if err != nil {
					t.Fatalf("program failed: %v", err)
				}
				reports := func(s *policy.Stack) []policy.Violation {
					res, err := policy.Evaluate(s, nil)
					if err != nil {
						t.Fatal(err)
					}
					var out []policy.Violation
					for _, violation := range res.Violations {
						if violation.Control == "APP.NET.1" {
							out = append(out, violation)
						}
					}
					return out
				}
				s := policyStack("prod", m)
				if got := reports(s); len(got) != 0 {
					t.Fatalf("APP.NET.1 fails before the break: %v", got)
				}
				inputs := map[string]any{"securityGroupId": find(s, tSG, "network-endpoints-sg").Out("id"),
					"ipProtocol": "tcp", "fromPort": 443, "toPort": 443}
				for k, value := range src {
					inputs[k] = value
				}
				addResource(s, tIngress, "endpoints-from-elsewhere", inputs)
				if got := reports(s); len(got) != 1 {
					t.Errorf("a 443 rule from %v into the endpoints' group: APP.NET.1 reports %v, want it", src, got)
				}
			})
		}
	}
}
