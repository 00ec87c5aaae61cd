package main

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

// runStack runs the whole program with a stack file from this directory, as `pulumi up` would.
func runStack(t *testing.T, stack string) *pulumitest.Mocks {
	t.Helper()
	project, cfg, err := pulumitest.StackConfig(".", stack)
	if err != nil {
		t.Fatalf("loading stack %s: %v", stack, err)
	}
	m, err := pulumitest.Run(project, stack, cfg, program)
	if err != nil {
		t.Fatalf("stack %s: program failed: %v", stack, err)
	}
	return m
}

func one(t *testing.T, m *pulumitest.Mocks, typ string) *pulumitest.Resource {
	t.Helper()
	rs := m.OfType(typ)
	if len(rs) != 1 {
		t.Fatalf("want exactly one %s, got %d", typ, len(rs))
	}
	return rs[0]
}

func containerDefinition(t *testing.T, m *pulumitest.Mocks) infra.ContainerDefinition {
	t.Helper()
	var defs []infra.ContainerDefinition
	if err := one(t, m, "aws:ecs/taskDefinition:TaskDefinition").JSON("containerDefinitions", &defs); err != nil {
		t.Fatal(err)
	}
	if len(defs) != 1 {
		t.Fatalf("want one container, got %d", len(defs))
	}
	return defs[0]
}

// TestStackFilesComeOutAsConfigured checks that what each stack file says is what gets deployed.
func TestStackFilesComeOutAsConfigured(t *testing.T) {
	for _, tc := range []struct {
		stack                      string
		azs, tasks, minInst, maxIn int
		instanceType, nat          string
		env                        map[string]string
		deletionProtection, exec   bool
		logRetention               int
	}{
		{
			stack: "dev", azs: 2, tasks: 2, minInst: 2, maxIn: 3, instanceType: "t3.small", nat: "Single",
			env:                map[string]string{"NODE_ENV": "development", "LOG_LEVEL": "debug"},
			deletionProtection: false, exec: true, logRetention: 7,
		},
		{
			stack: "prod", azs: 3, tasks: 3, minInst: 3, maxIn: 9, instanceType: "m6i.large", nat: "OnePerAz",
			env:                map[string]string{"NODE_ENV": "production", "LOG_LEVEL": "info"},
			deletionProtection: true, exec: false, logRetention: 90,
		},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			t.Parallel()
			m := runStack(t, tc.stack)

			vpc := one(t, m, "awsx:ec2:Vpc")
			if got := int(vpc.Num("numberOfAvailabilityZones")); got != tc.azs {
				t.Errorf("VPC spans %d AZs, want %d", got, tc.azs)
			}
			if got := vpc.Str("natGateways.strategy"); got != tc.nat {
				t.Errorf("NAT strategy %q, want %q", got, tc.nat)
			}

			svc := one(t, m, "aws:ecs/service:Service")
			if got := int(svc.Num("desiredCount")); got != tc.tasks {
				t.Errorf("desiredCount %d, want %d", got, tc.tasks)
			}
			if got := svc.Bool("enableExecuteCommand"); got != tc.exec {
				t.Errorf("enableExecuteCommand %v, want %v", got, tc.exec)
			}
			if tc.stack == "prod" && tc.tasks < tc.azs {
				t.Errorf("prod runs %d tasks over %d AZs: an AZ would have none", tc.tasks, tc.azs)
			}

			asg := one(t, m, "aws:autoscaling/group:Group")
			if got := int(asg.Num("minSize")); got != tc.minInst {
				t.Errorf("ASG minSize %d, want %d", got, tc.minInst)
			}
			if got := int(asg.Num("maxSize")); got != tc.maxIn {
				t.Errorf("ASG maxSize %d, want %d", got, tc.maxIn)
			}
			if got := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate").Str("instanceType"); got != tc.instanceType {
				t.Errorf("instance type %q, want %q", got, tc.instanceType)
			}
			if got := one(t, m, "aws:lb/loadBalancer:LoadBalancer").Bool("enableDeletionProtection"); got != tc.deletionProtection {
				t.Errorf("ALB deletion protection %v, want %v", got, tc.deletionProtection)
			}
			if got := int(one(t, m, "aws:cloudwatch/logGroup:LogGroup").Num("retentionInDays")); got != tc.logRetention {
				t.Errorf("log retention %d, want %d", got, tc.logRetention)
			}

			_, stackCfg, err := pulumitest.StackConfig(".", tc.stack)
			if err != nil {
				t.Fatal(err)
			}
			def := containerDefinition(t, m)
			if want := stackCfg["ecs-api:image"]; def.Image != want {
				t.Errorf("image %q, want the stack file's %q", def.Image, want)
			}
			got := map[string]string{}
			for _, e := range def.Environment {
				got[e.Name] = e.Value
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tc.env)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("environment %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}

// TestStackOutputs checks every stack exports the outputs README promises, with real values.
func TestStackOutputs(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		m := runStack(t, stack)
		var got []string
		for name := range m.Exports {
			got = append(got, name)
		}
		sort.Strings(got)
		want := []string{"albDnsName", "clusterName", "logGroupName", "region", "serviceName", "targetGroupArn", "taskDefinitionArn", "url", "vpcId"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s exports %v, want %v", stack, got, want)
		}
		dns, _ := m.Exports["albDnsName"].(string)
		if url, _ := m.Exports["url"].(string); dns == "" || url != "http://"+dns {
			t.Errorf("%s: url %q is not http:// + the ALB's DNS name %q", stack, url, dns)
		}
		if m.Exports["region"] != "us-east-1" {
			t.Errorf("%s: region output %v, want the stack's aws:region", stack, m.Exports["region"])
		}
	}
}
