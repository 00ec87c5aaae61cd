package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/docs"
	"github.com/acme/ecs-api/internal/pulumitest"
	"github.com/acme/ecs-api/internal/snapshot"
	"github.com/acme/ecs-api/policy"
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

// stackFiles names the stacks of every Pulumi.<stack>.yaml in the repository.
func stackFiles(t *testing.T) []string { return pulumitest.StackFiles(t, ".") }

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
	td := m.Named("aws:ecs/taskDefinition:TaskDefinition", "api-task")
	if td == nil {
		t.Fatal("no api-task task definition")
	}
	if err := td.JSON("containerDefinitions", &defs); err != nil {
		t.Fatal(err)
	}
	// The app's container; a stack with migrations also has the migrate container (migrate_test.go).
	for _, def := range defs {
		if def.Name == infra.ContainerName {
			return def
		}
	}
	t.Fatalf("no %s container among %d", infra.ContainerName, len(defs))
	return infra.ContainerDefinition{}
}

// TestStackFilesComeOutAsConfigured checks that what each stack file says is what gets deployed.
func TestStackFilesComeOutAsConfigured(t *testing.T) {
	for _, tc := range []struct {
		stack                      string
		azs, tasks, minInst, maxIn int
		instanceType, nat          string
		natInstances               int
		env                        map[string]string
		deletionProtection, exec   bool
		logRetention               int
	}{
		{
			stack: "dev", azs: 2, tasks: 2, minInst: 2, maxIn: 3, instanceType: "t3.small", nat: "None", natInstances: 1,
			env: map[string]string{"NODE_ENV": "development", "LOG_LEVEL": "debug", "CRON_ENABLED": "false",
				"DB_HOST": "db.abcdefghijkl.us-east-1.rds.amazonaws.com", "DB_PORT": "5432", "DB_NAME": "app",
				"DB_SSL": "true", "DB_SSL_CA": infra.RDSCABundlePath, "PGSSLMODE": "verify-full"},
			deletionProtection: false, exec: true, logRetention: 7,
		},
		{
			stack: "prod", azs: 3, tasks: 3, minInst: 3, maxIn: 11, instanceType: "m6i.large", nat: "OnePerAz",
			env: map[string]string{"NODE_ENV": "production", "LOG_LEVEL": "info", "CRON_ENABLED": "false",
				"DB_HOST": "db.abcdefghijkl.us-east-1.rds.amazonaws.com", "DB_PORT": "5432", "DB_NAME": "app",
				"DB_SSL": "true", "DB_SSL_CA": infra.RDSCABundlePath, "PGSSLMODE": "verify-full",
				"REDIS_HOST": "master.cache.abcdef.us-east-1.cache.amazonaws.com", "REDIS_PORT": "6379", "REDIS_TLS": "true"},
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

			if got := len(natGroups(m)); got != tc.natInstances {
				t.Errorf("%d NAT instances, want %d", got, tc.natInstances)
			}
			asg := m.Named("aws:autoscaling/group:Group", "cluster-asg")
			if got := int(asg.Num("minSize")); got != tc.minInst {
				t.Errorf("ASG minSize %d, want %d", got, tc.minInst)
			}
			if got := int(asg.Num("maxSize")); got != tc.maxIn {
				t.Errorf("ASG maxSize %d, want %d", got, tc.maxIn)
			}
			if got := m.Named("aws:ec2/launchTemplate:LaunchTemplate", "cluster-lt").Str("instanceType"); got != tc.instanceType {
				t.Errorf("instance type %q, want %q", got, tc.instanceType)
			}
			if got := one(t, m, "aws:lb/loadBalancer:LoadBalancer").Bool("enableDeletionProtection"); got != tc.deletionProtection {
				t.Errorf("ALB deletion protection %v, want %v", got, tc.deletionProtection)
			}
			if got := int(m.Named("aws:cloudwatch/logGroup:LogGroup", "api-logs").Num("retentionInDays")); got != tc.logRetention {
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

// TestStackOutputs checks every stack exports the outputs docs/operating.md promises, with real values.
func TestStackOutputs(t *testing.T) {
	for stack, extra := range map[string][]string{
		"dev":  {"databaseEndpoint", "databaseSecretArn"},
		"prod": {"databaseEndpoint", "databaseSecretArn", "cacheEndpoint", "alertTopicArn", "repositoryUrl"},
	} {
		m := runStack(t, stack)
		var got []string
		for name := range m.Exports {
			got = append(got, name)
		}
		sort.Strings(got)
		want := append([]string{"albDnsName", "capacityProviderName", "clusterName", "dashboardUrl", "healthCheckPath", "jobDeadLetterQueueUrl", "jobStateMachines", "jobTaskDefinitions",
			"logGroupName", "region", "serviceName", "targetGroupArn", "taskDefinitionArn", "url", "vpcId"}, extra...)
		sort.Strings(want)
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

// TestEveryResourceUsesTheTaggedProvider checks tags are applied in one place that nothing bypasses.
func TestEveryResourceUsesTheTaggedProvider(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		m := runStack(t, stack)
		provider := one(t, m, "pulumi:providers:aws")
		if provider.Str("region") != "us-east-1" {
			t.Errorf("%s: provider region %q", stack, provider.Str("region"))
		}
		tags := map[string]string{}
		for k, v := range policy.Get(provider.Inputs, "defaultTags.tags").ObjectValue() {
			tags[string(k)] = v.StringValue()
		}
		for k, v := range map[string]string{"project": "ecs-api", "stack": stack, "managed-by": "pulumi", "environment": stack, "cost-center": "platform"} {
			if tags[k] != v {
				t.Errorf("%s: default tag %s = %q, want %q", stack, k, tags[k], v)
			}
		}
		providerRef := provider.URN + "::" + provider.ID
		for _, r := range m.Resources() {
			if strings.HasPrefix(r.Type, "pulumi:providers:") {
				continue
			}
			if r.Remote {
				// awsx components receive the provider through their providers map, not a reference.
				continue
			}
			if strings.HasPrefix(r.Type, "aws:") && r.Provider != providerRef {
				t.Errorf("%s: %s %s uses provider %q, not the tagged one", stack, r.Type, r.Name, r.Provider)
			}
		}
	}
}

// TestEveryResourceBelongsToAComponent keeps main.go a table of contents: no resource at the root.
func TestEveryResourceBelongsToAComponent(t *testing.T) {
	m := runStack(t, "dev")
	components := map[string]int{}
	for _, r := range m.Resources() {
		if strings.HasPrefix(r.Type, "pulumi:providers:") || strings.HasPrefix(r.Type, "ecs-api:infra:") {
			continue
		}
		parent := resource.URN(r.Parent)
		if r.Parent == "" || parent.QualifiedType() == resource.RootStackType {
			t.Errorf("%s %s has no component parent", r.Type, r.Name)
			continue
		}
		components[string(parent.QualifiedType())]++
	}
	for _, c := range []string{"ecs-api:infra:Network", "ecs-api:infra:LoadBalancer", "ecs-api:infra:EcsCluster", "ecs-api:infra:AppService"} {
		if components[c] == 0 {
			t.Errorf("no resources under %s (got %v)", c, components)
		}
	}
}

// TestServiceWaitsForListenerAndCapacity checks the orderings AWS needs in the composed program.
func TestServiceWaitsForListenerAndCapacity(t *testing.T) {
	m := runStack(t, "dev")
	svc := one(t, m, "aws:ecs/service:Service")
	listener := one(t, m, "aws:lb/listener:Listener")
	if !svc.DependsOn(listener) {
		t.Error("service does not depend on the listener")
	}
	if !svc.DependsOn(one(t, m, "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")) {
		t.Error("service does not depend on the cluster's capacity provider association")
	}
	if svc.Str("cluster") != one(t, m, "aws:ecs/cluster:Cluster").Out("arn") {
		t.Errorf("service runs in cluster %q, want the stack's cluster ARN", svc.Str("cluster"))
	}
	tg := one(t, m, "aws:lb/targetGroup:TargetGroup")
	if svc.Str("loadBalancers.0.targetGroupArn") != tg.Out("arn") {
		t.Error("service registers tasks in a different target group than the listener forwards to")
	}
}

// TestSecurityGroupsAdmitOnlyNamedGroups checks the whole chain in every stack: internet -> ALB (80/443)
// -> instances (task ports) -> database (5432) and cache (6379), each hop from the named group only.
func TestSecurityGroupsAdmitOnlyNamedGroups(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		m := runStack(t, stack)
		sgID := func(name string) string {
			if sg := m.Named("aws:ec2/securityGroup:SecurityGroup", name); sg != nil {
				return sg.Out("id")
			}
			return ""
		}
		alb, instances, db, cache := sgID("web-sg"), sgID("cluster-instances-sg"), sgID("db-sg"), sgID("cache-sg")
		type hop struct{ from, port, protocol string }
		allowed := map[string][]hop{
			alb:       {{"0.0.0.0/0", "80", "tcp"}, {"::/0", "80", "tcp"}, {"0.0.0.0/0", "443", "tcp"}, {"::/0", "443", "tcp"}},
			instances: {{alb, "32768-65535", "tcp"}},
			db:        {{instances, "5432", "tcp"}},
			cache:     {{instances, "6379", "tcp"}},
		}
		// A NAT instance forwards the VPC's own traffic, every protocol, and nothing from outside it.
		if nat := sgID("network-nat-sg"); nat != "" {
			allowed[nat] = []hop{{one(t, m, "awsx:ec2:Vpc").Str("cidrBlock"), "0", "-1"}}
		}
		seen := map[string]int{}
		for _, r := range m.OfType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
			group := r.Str("securityGroupId")
			from := r.Str("cidrIpv4") + r.Str("cidrIpv6") + r.Str("referencedSecurityGroupId") + r.Str("prefixListId")
			port := itoa(int(r.Num("fromPort")))
			if r.Num("toPort") != r.Num("fromPort") {
				port += "-" + itoa(int(r.Num("toPort")))
			}
			ok := false
			for _, h := range allowed[group] {
				ok = ok || (h.from == from && h.port == port && r.Str("ipProtocol") == h.protocol)
			}
			if !ok || group == "" {
				t.Errorf("%s: rule %s admits %s on %s into %q, which the design does not allow", stack, r.Name, from, port, group)
			}
			seen[group]++
		}
		if seen[instances] != 1 || seen[alb] == 0 {
			t.Errorf("%s: ingress rules per group %v", stack, seen)
		}
		if (db != "") != (seen[db] == 1) || (cache != "") != (seen[cache] == 1) {
			t.Errorf("%s: database/cache groups without exactly one ingress rule: %v", stack, seen)
		}
		for _, sg := range m.OfType("aws:ec2/securityGroup:SecurityGroup") {
			if sg.Len("ingress") != 0 || sg.Len("egress") != 0 {
				t.Errorf("%s: %s has inline rules", stack, sg.Name)
			}
		}
	}
}

func TestInvalidConfigRegistersNothing(t *testing.T) {
	project, cfg, err := pulumitest.StackConfig(".", "dev")
	if err != nil {
		t.Fatal(err)
	}
	cfg["ecs-api:desiredCount"] = "0"
	cfg["ecs-api:containerPort"] = "99999"
	m, err := pulumitest.Run(project, "dev", cfg, program)
	if err == nil || !strings.Contains(err.Error(), "desiredCount:") || !strings.Contains(err.Error(), "containerPort:") {
		t.Errorf("error %v, want both bad keys named", err)
	}
	if n := len(m.Resources()); n != 0 {
		t.Errorf("%d resources registered before the config error", n)
	}
}

// TestDocsListEveryOutput keeps the output table (docs/operating.md) and README's commands true.
func TestDocsListEveryOutput(t *testing.T) {
	operating := page(t, "docs/operating.md")
	m := runStack(t, "dev")
	for name := range m.Exports {
		if !strings.Contains(operating, "| `"+name+"` |") {
			t.Errorf("docs/operating.md's outputs table lacks %s", name)
		}
	}
	readme := page(t, "README.md")
	for _, command := range []string{"pulumi login --local", "pulumi up --stack dev", "go test ./..."} {
		if !strings.Contains(readme, command) {
			t.Errorf("README lacks %q", command)
		}
	}
}

// page is the text of README.md or a page under docs/.
func page(t *testing.T, name string) string {
	t.Helper()
	text, err := docs.Read(".", name)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// TestStackScalingAndAlarms checks each stack's scaling and rollback posture.
func TestStackScalingAndAlarms(t *testing.T) {
	dev := runStack(t, "dev")
	if n := len(dev.OfType("aws:appautoscaling/target:Target")) + len(dev.OfType("aws:cloudwatch/metricAlarm:MetricAlarm")); n != 0 {
		t.Errorf("dev has %d scaling targets or alarms, want none", n)
	}
	if len(one(t, dev, "aws:ecs/service:Service").IgnoreChanges) != 0 {
		t.Error("dev's service ignores changes although autoscaling is off: its desiredCount would never apply")
	}

	prod := runStack(t, "prod")
	target := one(t, prod, "aws:appautoscaling/target:Target")
	if target.Num("minCapacity") != 3 || target.Num("maxCapacity") != 24 {
		t.Errorf("prod scales %v-%v tasks, want 3-24", target.Num("minCapacity"), target.Num("maxCapacity"))
	}
	policies := map[string]float64{}
	for _, p := range prod.OfType("aws:appautoscaling/policy:Policy") {
		c := "targetTrackingScalingPolicyConfiguration."
		policies[p.Str(c+"predefinedMetricSpecification.predefinedMetricType")] = p.Num(c + "targetValue")
	}
	if len(policies) != 2 || policies["ECSServiceAverageCPUUtilization"] != 60 || policies["ALBRequestCountPerTarget"] != 1000 {
		t.Errorf("prod policies %v, want CPU 60 and 1000 requests per target", policies)
	}
	actions := prod.OfType("aws:appautoscaling/scheduledAction:ScheduledAction")
	if len(actions) != 2 {
		t.Fatalf("prod has %d scheduled actions, want the sale window's start and end", len(actions))
	}
	for _, a := range actions {
		if a.Str("name") == "sale-window-start" && a.Num("scalableTargetAction.minCapacity") <= target.Num("minCapacity") {
			t.Error("the sale window does not raise the minimum")
		}
	}
	svc := one(t, prod, "aws:ecs/service:Service")
	if strings.Join(svc.IgnoreChanges, ",") != "desiredCount" {
		t.Errorf("prod service ignores %v, want desiredCount (autoscaling owns it)", svc.IgnoreChanges)
	}
	deploymentAlarms := 0
	for _, a := range prod.OfType("aws:cloudwatch/metricAlarm:MetricAlarm") {
		if strings.HasPrefix(a.Name, "api-") && slices.Contains(svc.Strs("alarms.alarmNames"), a.Out("name")) {
			deploymentAlarms++
		}
	}
	if deploymentAlarms != 3 || len(svc.Strs("alarms.alarmNames")) != 3 || !svc.Bool("alarms.rollback") {
		t.Errorf("prod deployment alarms %v, want three with rollback", svc.Inputs["alarms"])
	}
	if got := one(t, prod, "aws:ecs/capacityProvider:CapacityProvider").Num("autoScalingGroupProvider.managedScaling.targetCapacity"); got != 90 {
		t.Errorf("prod target capacity %v, want 90", got)
	}
}

// TestEachStackRunsItsJobOnce checks the stack files' example job and the cron switch.
func TestEachStackRunsItsJobOnce(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		m := runStack(t, stack)
		schedules := jobSchedules(m)
		if len(schedules) != 1 {
			t.Fatalf("%s: want one schedule, got %d", stack, len(schedules))
		}
		machine := m.Named("aws:sfn/stateMachine:StateMachine", "jobs-nightly-cleanup")
		if machine == nil || schedules[0].Str("target.arn") != machine.Out("arn") {
			t.Fatalf("%s: the schedule does not start the job's state machine", stack)
		}
		var def struct {
			States map[string]struct {
				Resource   string
				Parameters map[string]any
			}
		}
		if err := machine.JSON("definition", &def); err != nil {
			t.Fatal(err)
		}
		if run := def.States[infra.JobRunState]; run.Resource != "arn:aws:states:::ecs:runTask.sync" || run.Parameters["Count"] != nil {
			t.Errorf("%s: the run state %+v does not run exactly one task synchronously", stack, run)
		}
		if arns, _ := m.Exports["jobStateMachines"].(map[string]string); arns["nightly-cleanup"] != machine.Out("arn") {
			t.Errorf("%s: jobStateMachines output %v lacks the job", stack, arns)
		}
		var api, job infra.ContainerDefinition
		for _, td := range m.OfType("aws:ecs/taskDefinition:TaskDefinition") {
			var defs []infra.ContainerDefinition
			if err := td.JSON("containerDefinitions", &defs); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(td.Str("family"), "-job-") {
				job = defs[0]
			} else {
				api = defs[0]
			}
		}
		flag := func(c infra.ContainerDefinition) string {
			for _, e := range c.Environment {
				if e.Name == "CRON_ENABLED" {
					return e.Value
				}
			}
			return ""
		}
		if flag(api) != "false" || flag(job) != "true" {
			t.Errorf("%s: CRON_ENABLED is %q in the API and %q in the job, want false and true", stack, flag(api), flag(job))
		}
		if arns, _ := m.Exports["jobTaskDefinitions"].(map[string]string); !strings.Contains(arns["nightly-cleanup"], ":task-definition/") {
			t.Errorf("%s: jobTaskDefinitions output lacks the job", stack)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestStackDataProtections checks shared state per stack: prod keeps its data through mistakes, dev is disposable.
func TestStackDataProtections(t *testing.T) {
	dev := runStack(t, "dev")
	db := one(t, dev, "aws:rds/instance:Instance")
	if db.Protect || db.Bool("deletionProtection") || db.Bool("multiAz") || !db.Bool("skipFinalSnapshot") {
		t.Errorf("dev database should be small and deletable: protect %v deletion %v multiAz %v", db.Protect, db.Bool("deletionProtection"), db.Bool("multiAz"))
	}
	if len(dev.OfType("aws:elasticache/replicationGroup:ReplicationGroup")) != 0 {
		t.Error("dev runs a cache it does not configure")
	}

	prod := runStack(t, "prod")
	db = one(t, prod, "aws:rds/instance:Instance")
	if !db.Protect || !db.Bool("deletionProtection") || !db.Bool("multiAz") || db.Bool("skipFinalSnapshot") ||
		db.Num("backupRetentionPeriod") < 7 || !db.Bool("performanceInsightsEnabled") || db.Bool("publiclyAccessible") || !db.Bool("storageEncrypted") {
		t.Errorf("prod database protections missing: %v (protect %v)", db.Inputs, db.Protect)
	}
	cache := one(t, prod, "aws:elasticache/replicationGroup:ReplicationGroup")
	if !cache.Protect || !cache.Bool("automaticFailoverEnabled") || !cache.Bool("multiAzEnabled") || cache.Num("numCacheClusters") < 2 ||
		!cache.Bool("transitEncryptionEnabled") || !cache.Bool("atRestEncryptionEnabled") {
		t.Errorf("prod cache protections missing: %v (protect %v)", cache.Inputs, cache.Protect)
	}
	// Jobs run the app's code: they reach the same database and cache.
	for _, td := range prod.OfType("aws:ecs/taskDefinition:TaskDefinition") {
		raw := td.Str("containerDefinitions")
		for _, name := range []string{`"DB_HOST"`, `"DB_PASSWORD"`, `"REDIS_HOST"`, `"REDIS_PASSWORD"`} {
			if !strings.Contains(raw, name) {
				t.Errorf("prod %s lacks %s", td.Name, name)
			}
		}
	}
}

// policyStack is a stack's graph as the policy suite sees it.
func policyStack(stack string, m *pulumitest.Mocks) *policy.Stack {
	s := &policy.Stack{Name: stack, Production: config.IsProductionStack(stack)}
	for _, r := range m.Resources() {
		res := r.Resource
		s.Resources = append(s.Resources, &res)
	}
	return s
}

// TestPolicySuite evaluates every control over the full graph of every stack file in the repository
// and fails with each violation no waiver in that stack file covers.
func TestPolicySuite(t *testing.T) {
	for _, stack := range stackFiles(t) {
		file := "Pulumi." + stack + ".yaml"
		t.Run(stack, func(t *testing.T) {
			_, cfg, err := pulumitest.StackConfig(".", stack)
			if err != nil {
				t.Fatal(err)
			}
			waivers := map[string]string{}
			if raw := cfg["ecs-api:policyWaivers"]; raw != "" {
				if err := json.Unmarshal([]byte(raw), &waivers); err != nil {
					t.Fatalf("policyWaivers: %v", err)
				}
			}
			res, err := policy.Evaluate(policyStack(stack, runStack(t, stack)), waivers)
			if err != nil {
				t.Fatal(err)
			}
			for id, found := range res.Waived {
				t.Logf("waived %s (%d finding(s)): %s", id, len(found), waivers[id])
			}
			for _, id := range res.Unused {
				t.Errorf("waiver %s matches no finding: remove it from %s", id, file)
			}
			for _, v := range res.Violations {
				t.Errorf("%s", v)
			}
		})
	}
}

// TestSecurityPageListsEveryControl keeps the control table of docs/security.md complete.
func TestSecurityPageListsEveryControl(t *testing.T) {
	security := page(t, "docs/security.md")
	for _, c := range policy.Controls() {
		if !strings.Contains(security, "| `"+c.ID+"` | "+c.Title+" |") {
			t.Errorf("docs/security.md's control table lacks %s (%s)", c.ID, c.Title)
		}
	}
}

// TestSnapshots compares each stack's rendered graph with its committed golden file, so reviewers
// see infrastructure changes as a diff; `go test ./... -update` rewrites them.
func TestSnapshots(t *testing.T) {
	type run struct{ file, stack string }
	runs := map[run]func(t *testing.T) *pulumitest.Mocks{}
	for _, stack := range stackFiles(t) {
		runs[run{stack, stack}] = func(t *testing.T) *pulumitest.Mocks { return runStack(t, stack) }
	}
	// prod with its commented domain block filled in, so the domain's resources are reviewed too.
	runs[run{"prod-with-domain", "prod"}] = func(t *testing.T) *pulumitest.Mocks {
		project, cfg := variantConfig(t, "prod", variant{objects: map[string]map[string]any{
			"domain": {"name": "api.example.com", "zoneName": "example.com", "aliases": []string{"www.example.com"}},
		}})
		m, err := pulumitest.Run(project, "prod", cfg, program)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for r, runIt := range runs {
		t.Run(r.file, func(t *testing.T) {
			first, err := snapshot.Render(runIt(t).Resources())
			if err != nil {
				t.Fatal(err)
			}
			second, err := snapshot.Render(runIt(t).Resources())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Fatal("two runs render different graphs: the snapshot would never be stable")
			}
			if bytes.Contains(first, []byte(`"secretString": "`)) && !bytes.Contains(first, []byte(`"secretString": "`+snapshot.Masked+`"`)) {
				t.Fatal("a secret reached the snapshot")
			}
			if err := snapshot.Compare(filepath.Join("testdata", "snapshots", r.file+".json"), first); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCLIAcceptsOnlyImageAsRequired mirrors `pulumi up`'s own check of the stack config against
// Pulumi.yaml: a stack needs to set nothing but the image (and region), and a wrongly typed value is
// refused by the CLI before the program runs.
func TestCLIAcceptsOnlyImageAsRequired(t *testing.T) {
	dir := t.TempDir()
	project, err := os.ReadFile("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Pulumi.yaml":          string(project),
		"Pulumi.minimal.yaml":  "config:\n  aws:region: eu-west-1\n  ecs-api:image: ghcr.io/acme/api:1.0.0\n",
		"Pulumi.noimage.yaml":  "config:\n  aws:region: eu-west-1\n",
		"Pulumi.badtype.yaml":  "config:\n  aws:region: eu-west-1\n  ecs-api:image: ghcr.io/acme/api:1.0.0\n  ecs-api:desiredCount: many\n",
		"Pulumi.badarray.yaml": "config:\n  aws:region: eu-west-1\n  ecs-api:image: ghcr.io/acme/api:1.0.0\n  ecs-api:jobs: {name: x}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, cfg, err := pulumitest.StackConfig(dir, "minimal"); err != nil {
		t.Errorf("a stack with only region and image is refused: %v", err)
	} else if _, err := pulumitest.Run("ecs-api", "minimal", cfg, program); err != nil {
		t.Errorf("the program refuses the defaults: %v", err)
	}
	for stack, want := range map[string]string{
		"noimage":  "missing configuration value(s) image",
		"badtype":  "'desiredCount' must be of type 'integer'",
		"badarray": "'jobs' must be of type 'array<object>'",
	} {
		if _, _, err := pulumitest.StackConfig(dir, stack); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", stack, err, want)
		}
	}
}

// TestDocsSayWhatAWSDoes keeps README.md and the pages under docs/ true about behaviour only a real
// account shows, each claim on the page a reader looks for it.
func TestDocsSayWhatAWSDoes(t *testing.T) {
	readme := page(t, "README.md")
	// The first screen says what this is and gives the two commands before any reference table.
	firstTable := strings.Index(readme, "\n| ")
	for _, command := range []string{"pulumi up --stack dev", "go test ./..."} {
		if i := strings.Index(readme, command); i < 0 || i > firstTable {
			t.Errorf("README's first screen lacks %q before the first table", command)
		}
	}
	for _, claim := range []struct{ page, want string }{
		// A fresh account lacks the ECS service-linked role; the first deploy fails without it.
		{"README.md", "aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com"},
		// A task waiting for capacity is not a failed RunTask; the run retries it once ECS stops it.
		{"docs/jobs.md", "No instance has room**: with a capacity provider, RunTask succeeds"},
		// Overlap is reported, not run.
		{"docs/jobs.md", "JobAlreadyRunning"},
		// A refresh during a scheduled window writes the base bounds back.
		{"docs/scaling.md", "pulumi up --refresh"},
		// The app must trust the RDS CA to connect with TLS.
		{"docs/data.md", "rds-global-bundle.pem"},
		// Rotation replaces the tasks that hold the old password.
		{"docs/data.md", "RotationSucceeded"},
		// The peak-rollout rule with prod's arithmetic.
		{"docs/architecture.md", "⌈41 / 4⌉ = 11 instances"},
	} {
		if !strings.Contains(page(t, claim.page), claim.want) {
			t.Errorf("%s lacks %q", claim.page, claim.want)
		}
	}
	if strings.Contains(page(t, "docs/jobs.md"), "(no capacity, a throttled API)") {
		t.Error("docs/jobs.md says job retries cover no capacity; with capacity providers they do not")
	}
	_, prod, err := pulumitest.StackConfig(".", "prod")
	if err != nil {
		t.Fatal(err)
	}
	if prod["ecs-api:maxInstances"] != "11" {
		t.Errorf("docs/architecture.md's arithmetic gives prod 11 instances, the stack file sets %s", prod["ecs-api:maxInstances"])
	}
}
