package main

// Rules AWS and the provider enforce that Pulumi's mocks do not: each test checks one class of
// them over the whole graph of every stack file, and of each stack with the optional parts on
// (Spot, warm pool, worker, cache, ECS Exec on a read-only root, alerts), and names its source.

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
	"github.com/acme/ecs-api/policy"
)

// variant is a stack file with parts of the config turned on, as a user might.
type variant struct {
	name    string
	objects map[string]map[string]any // object keys merged into the stack's values
	plain   map[string]string
}

// ecrImage is an image in ECR in the stacks' region, which a VPC without NAT can pull.
const ecrImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ecs-api:1.4.2"

// noNatEndpoints are the interface endpoints of the variants without internet egress.
var noNatEndpoints = []string{"ecr.api", "ecr.dkr", "logs", "ecs", "ecs-agent", "ecs-telemetry", "secretsmanager", "ssm", "ssmmessages", "ec2messages"}

// ownVpc is the existing VPC of pulumitest's lookups: private subnets with a NAT route, or without
// one and with the endpoints.
func ownVpc(endpointsOnly bool) map[string]any {
	n := map[string]any{
		"vpcId":            pulumitest.ExistingVpc,
		"publicSubnetIds":  []string{"subnet-0a00000000000000a", "subnet-0b00000000000000b", "subnet-0c00000000000000c"},
		"privateSubnetIds": []string{"subnet-1a00000000000000a", "subnet-1b00000000000000b", "subnet-1c00000000000000c"},
	}
	if endpointsOnly {
		n["privateSubnetIds"] = []string{"subnet-2a00000000000000a", "subnet-2b00000000000000b"}
		n["endpoints"] = noNatEndpoints
	}
	return n
}

// externalTopic is the existing topic (AWS Chatbot's, say) the alerts variant also notifies.
const externalTopic = "arn:aws:sns:us-east-1:123456789012:chatbot-alerts"

func variants(instanceType string) []variant {
	spotTypes := []string{"m6i.large", "m6a.large"}
	if shape, err := config.ParseInstanceType(instanceType); err == nil && shape.Arm64 {
		spotTypes = []string{"m7g.large", "c7g.xlarge"}
	}
	spot := map[string]any{"spot": map[string]any{"enabled": true, "instanceTypes": spotTypes, "maxInstances": 3}}
	warm := map[string]any{"warmPool": map[string]any{"enabled": true, "minSize": 1}}
	worker := map[string]any{"enabled": true, "command": []string{"node", "dist/worker.js"}}
	cache := map[string]any{"enabled": true}
	exec := map[string]string{"enableExecuteCommand": "true", "readonlyRootFilesystem": "true"}
	alerts := map[string]any{"enabled": true, "emails": []string{"oncall@example.com", "team@example.com"}, "topicArn": externalTopic}
	return []variant{
		{name: "as-is"},
		{name: "spot", objects: map[string]map[string]any{"capacity": spot}},
		{name: "warm-pool", objects: map[string]map[string]any{"capacity": warm}},
		{name: "worker", objects: map[string]map[string]any{"worker": worker}},
		{name: "cache", objects: map[string]map[string]any{"cache": cache}},
		{name: "exec-readonly", plain: exec},
		{name: "alerts", objects: map[string]map[string]any{"alerts": alerts}},
		{name: "nat-single", plain: map[string]string{"natGateways": "Single"}},
		{name: "nat-per-az", plain: map[string]string{"natGateways": "OnePerAz"}},
		{name: "nat-instance", plain: map[string]string{"natGateways": "Instance"}},
		{name: "nat-instance-per-az", plain: map[string]string{"natGateways": "Instance"}, objects: map[string]map[string]any{"network": {"natInstancePerAz": true}}},
		{name: "no-nat", plain: map[string]string{"natGateways": "None", "image": ecrImage},
			objects: map[string]map[string]any{"network": {"endpoints": noNatEndpoints}}},
		{name: "own-vpc", objects: map[string]map[string]any{"network": ownVpc(false)}},
		{name: "own-vpc-endpoints-only", plain: map[string]string{"image": ecrImage},
			objects: map[string]map[string]any{"network": ownVpc(true)}},
		{name: "domain", objects: map[string]map[string]any{"domain": {"name": "api.example.com", "zoneName": "example.com", "aliases": []string{"www.example.com"}}}},
		{name: "everything", plain: exec, objects: map[string]map[string]any{
			"capacity": {"spot": spot["spot"], "warmPool": warm["warmPool"]}, "worker": worker, "cache": cache, "alerts": alerts,
			"repository": {"enabled": true, "pushRoleArns": []string{"arn:aws:iam::123456789012:role/api-ci"}},
		}},
	}
}

// variantConfig is a stack file's config with the variant merged in.
func variantConfig(t *testing.T, stack string, v variant) (string, map[string]string) {
	t.Helper()
	project, cfg, err := pulumitest.StackConfig(".", stack)
	if err != nil {
		t.Fatalf("loading stack %s: %v", stack, err)
	}
	for key, patch := range v.objects {
		k := project + ":" + key
		current := map[string]any{}
		if raw := cfg[k]; raw != "" {
			if err := json.Unmarshal([]byte(raw), &current); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
		}
		for pk, pv := range patch {
			current[pk] = pv
		}
		b, _ := json.Marshal(current)
		cfg[k] = string(b)
	}
	for key, value := range v.plain {
		cfg[project+":"+key] = value
	}
	return project, cfg
}

// forEachVariantConfig calls check with the config of every stack file and variant, in a subtest.
func forEachVariantConfig(t *testing.T, check func(t *testing.T, stack, project string, v variant, cfg map[string]string)) {
	for _, stack := range stackFiles(t) {
		_, base, err := pulumitest.StackConfig(".", stack)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range variants(base["ecs-api:instanceType"]) {
			t.Run(stack+"/"+v.name, func(t *testing.T) {
				project, cfg := variantConfig(t, stack, v)
				check(t, stack, project, v, cfg)
			})
		}
	}
}

// forEachVariant runs the program for every stack file and variant.
func forEachVariant(t *testing.T, check func(t *testing.T, stack string, v variant, m *pulumitest.Mocks)) {
	forEachVariantConfig(t, func(t *testing.T, stack, project string, v variant, cfg map[string]string) {
		m, err := pulumitest.Run(project, stack, cfg, program)
		if err != nil {
			t.Fatalf("program failed: %v", err)
		}
		check(t, stack, v, m)
	})
}

// graph indexes a run's resources by the values other resources reference them with.
type graph struct {
	byURN   map[string]*pulumitest.Resource
	byValue map[string]*pulumitest.Resource // ARN or id
	roles   map[string]*pulumitest.Resource // role name
	// policies maps a role's URN to every inline policy and attachment of that role.
	policies map[string][]*pulumitest.Resource
}

const roleType = "aws:iam/role:Role"

func newGraph(m *pulumitest.Mocks) *graph {
	g := &graph{byURN: map[string]*pulumitest.Resource{}, byValue: map[string]*pulumitest.Resource{},
		roles: map[string]*pulumitest.Resource{}, policies: map[string][]*pulumitest.Resource{}}
	for _, r := range m.Resources() {
		g.byURN[r.URN] = r
		if arn := r.Out("arn"); arn != "" {
			g.byValue[arn] = r
		}
		if r.ID != "" {
			g.byValue[r.ID] = r
		}
		if r.Type == roleType {
			g.roles[r.Out("name")] = r
		}
	}
	for _, r := range m.Resources() {
		if r.Type == "aws:iam/rolePolicy:RolePolicy" || r.Type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" {
			if role := g.roles[r.Str("role")]; role != nil {
				g.policies[role.URN] = append(g.policies[role.URN], r)
			}
		}
	}
	return g
}

// leaves calls fn for every string in v with the key it sits under.
func leaves(key string, v resource.PropertyValue, fn func(key, value string)) {
	switch {
	case v.IsString():
		fn(key, v.StringValue())
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			leaves(key, e, fn)
		}
	case v.IsObject():
		for k, e := range v.ObjectValue() {
			leaves(string(k), e, fn)
		}
	case v.IsSecret():
		leaves(key, v.SecretValue().Element, fn)
	}
}

// rolesOf follows references from r (ARNs and ids in its inputs, role names under "role") to every
// IAM role whose permissions the work it starts uses: task definitions' roles, an instance
// profile's role, a state machine's or a target's role.
func (g *graph) rolesOf(r *pulumitest.Resource) []*pulumitest.Resource {
	seen := map[string]bool{r.URN: true}
	var roles []*pulumitest.Resource
	queue := []*pulumitest.Resource{r}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		leaves("", resource.NewObjectProperty(cur.Inputs), func(key, value string) {
			next := g.byValue[value]
			if key == "role" && g.roles[value] != nil {
				next = g.roles[value]
			}
			if next == nil || seen[next.URN] {
				return
			}
			seen[next.URN] = true
			if next.Type == roleType {
				roles = append(roles, next)
				return
			}
			queue = append(queue, next)
		})
	}
	return roles
}

// grants maps each action the roles behind r allow to the resources it is allowed on.
func (g *graph) grants(t *testing.T, r *pulumitest.Resource) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, role := range g.rolesOf(r) {
		for _, p := range g.policies[role.URN] {
			var doc infra.PolicyDocument
			if err := p.JSON("policy", &doc); err != nil {
				t.Fatal(err)
			}
			for _, st := range doc.Statement {
				for _, a := range st.Action {
					out[a] = append(out[a], st.Resource...)
				}
			}
		}
	}
	return out
}

// waitsFor is every resource r is created after: its dependencies, and theirs.
func (g *graph) waitsFor(r *pulumitest.Resource) map[string]bool {
	out := map[string]bool{}
	var visit func(urn string)
	visit = func(urn string) {
		for _, d := range g.byURN[urn].Dependencies {
			if !out[d] && g.byURN[d] != nil {
				out[d] = true
				visit(d)
			}
		}
	}
	visit(r.URN)
	return out
}

// TestEverythingThatStartsWorkWaitsForEveryPolicyOfItsRoles: a role's policies are separate
// resources, and nothing orders them before what uses the role unless the program says so. ECS
// pulls the image and reads secrets with the execution role when a task starts ("Amazon ECS task
// execution IAM role"); a task started before those policies exist stops with AccessDenied or
// ResourceInitializationError, and each such failure counts toward the deployment circuit breaker.
// Instances register with the instance role's policies; the scheduler, EventBridge and Step
// Functions act with theirs. So every service, schedule, Auto Scaling group and event target must be
// created after every policy of every role its work uses, the roles of the state machines it starts
// included (a state machine does not start on its own: what starts it is checked).
func TestEverythingThatStartsWorkWaitsForEveryPolicyOfItsRoles(t *testing.T) {
	starters := map[string]bool{
		"aws:ecs/service:Service": true, "aws:scheduler/schedule:Schedule": true, "aws:autoscaling/group:Group": true,
		"aws:cloudwatch/eventTarget:EventTarget": true,
	}
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		g := newGraph(m)
		found := map[string]int{}
		for _, r := range m.Resources() {
			if !starters[r.Type] {
				continue
			}
			found[r.Type]++
			if r.Type == "aws:cloudwatch/eventTarget:EventTarget" && r.Str("roleArn") == "" {
				checkAdmittedByResourcePolicy(t, m, g, r)
				continue
			}
			roles := g.rolesOf(r)
			if len(roles) == 0 {
				t.Errorf("%s %s: no role found behind it; the test would check nothing", r.Type, r.Name)
			}
			waits := g.waitsFor(r)
			for _, role := range roles {
				for _, p := range g.policies[role.URN] {
					if !waits[p.URN] {
						t.Errorf("%s %s can start before %s %s (role %s) exists", r.Type, r.Name, p.Type, p.Name, role.Name)
					}
				}
			}
		}
		for typ := range starters {
			if found[typ] == 0 {
				t.Errorf("no %s in the graph: the stack files are meant to exercise every kind", typ)
			}
		}
	})
}

// checkAdmittedByResourcePolicy: an event target without a role (an SNS topic, a log group) is
// admitted by its destination's resource policy, not by IAM; EventBridge's deliveries before that
// policy exists are refused and dropped ("Using resource-based policies for Amazon EventBridge"), so
// the target must wait for it. A destination outside the stack (alerts.topicArn) is the user's.
func checkAdmittedByResourcePolicy(t *testing.T, m *pulumitest.Mocks, g *graph, target *pulumitest.Resource) {
	t.Helper()
	dest := target.Str("arn")
	var policy *pulumitest.Resource
	inStack := false
	for _, topic := range m.OfType("aws:sns/topic:Topic") {
		inStack = inStack || topic.Out("arn") == dest
	}
	for _, p := range m.OfType("aws:sns/topicPolicy:TopicPolicy") {
		if p.Str("arn") == dest {
			policy = p
		}
	}
	for _, lg := range m.OfType("aws:cloudwatch/logGroup:LogGroup") {
		inStack = inStack || lg.Out("arn") == dest
	}
	for _, p := range m.OfType("aws:cloudwatch/logResourcePolicy:LogResourcePolicy") {
		if strings.Contains(p.Str("policyDocument"), `"`+dest+`:*"`) {
			policy = p
		}
	}
	switch {
	case !inStack:
		return
	case policy == nil:
		t.Errorf("%s %s delivers to %s, which no resource policy of the stack admits it to", target.Type, target.Name, dest)
	case !g.waitsFor(target)[policy.URN]:
		t.Errorf("%s %s can deliver before %s %s admits it", target.Type, target.Name, policy.Type, policy.Name)
	}
}

// setIndexAllowed lists the output lists the program may read by position, each with why the
// provider keeps it in order.
var setIndexAllowed = map[string]string{
	"MasterUserSecrets": "a computed list of one block, the secret RDS made; not a set",
	"PrivateSubnetIds":  "awsx's Vpc builds it in availability zone order from its own subnets; a list, not a provider set",
	"PublicSubnetIDs":   "the Network's awsx PublicSubnetIds: a list awsx builds in availability zone order, not a provider set",
}

// TestNoOutputListIsReadByPosition: the provider returns set-typed attributes (capacity providers of
// a cluster, security groups, subnets...) in an order of its own (pulumi/pulumi-terraform-bridge#2478),
// so a value read by position may be another element after any refresh. Each value comes from its own
// resource instead; a list read by position must be listed in setIndexAllowed with the reason.
func TestNoOutputListIsReadByPosition(t *testing.T) {
	files, _ := filepath.Glob("infra/*.go")
	files = append(files, "main.go")
	fset := token.NewFileSet()
	checked := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Index" {
				return true
			}
			field, ok := sel.X.(*ast.SelectorExpr)
			if !ok {
				t.Errorf("%s: an output list is read by position; take the value from its own resource", fset.Position(call.Pos()))
				return true
			}
			if _, allowed := setIndexAllowed[field.Sel.Name]; !allowed {
				t.Errorf("%s: %s is read by position, and the provider may keep it as a set in another order; take the value from its own resource",
					fset.Position(call.Pos()), field.Sel.Name)
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("checked %d files, want every component", checked)
	}
}

// TestEachCapacityProviderNameComesFromItsOwnResource: with Spot on, the on-demand base of the
// API, the worker and the jobs must stay on the on-demand provider even when the cluster
// association hands its set back in another order (the mocks return it reversed).
func TestEachCapacityProviderNameComesFromItsOwnResource(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		onDemand := m.Named("aws:ecs/capacityProvider:CapacityProvider", "cluster-capacity").Out("name")
		spot := m.Named("aws:ecs/capacityProvider:CapacityProvider", "cluster-spot-capacity")
		for _, svc := range m.OfType("aws:ecs/service:Service") {
			for i := 0; i < svc.Len("capacityProviderStrategies"); i++ {
				p := "capacityProviderStrategies." + itoa(i) + "."
				name := svc.Str(p + "capacityProvider")
				wantSpot := spot != nil && svc.Name == "api" && svc.Num(p+"base") == 0 && i > 0
				if wantSpot && name != spot.Out("name") || !wantSpot && name != onDemand {
					t.Errorf("service %s strategy %d (base %v) runs on %q", svc.Name, i, svc.Num(p+"base"), name)
				}
			}
		}
		for _, sm := range m.OfType("aws:sfn/stateMachine:StateMachine") {
			if !strings.HasPrefix(sm.Name, "jobs-") {
				continue
			}
			var def struct {
				States map[string]struct {
					Parameters struct {
						CapacityProviderStrategy []struct{ CapacityProvider string }
					}
				}
			}
			if err := json.Unmarshal([]byte(sm.Str("definition")), &def); err != nil {
				t.Fatal(err)
			}
			strategy := def.States[infra.JobRunState].Parameters.CapacityProviderStrategy
			if len(strategy) != 1 || strategy[0].CapacityProvider != onDemand {
				t.Errorf("job %s runs on %+v, want the on-demand provider %q", sm.Name, strategy, onDemand)
			}
		}
	})
}

// TestExecAgentCanWriteOnReadOnlyRoot: ECS Exec injects an SSM agent that must write
// /var/lib/amazon/ssm and /var/log/amazon/ssm inside the container (aws/containers-roadmap#1359);
// on a read-only root each needs a writable volume, or every `aws ecs execute-command` fails.
func TestExecAgentCanWriteOnReadOnlyRoot(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		tds := map[string]*pulumitest.Resource{}
		for _, td := range m.OfType("aws:ecs/taskDefinition:TaskDefinition") {
			tds[td.Out("arn")] = td
		}
		for _, svc := range m.OfType("aws:ecs/service:Service") {
			td := tds[svc.Str("taskDefinition")]
			var defs []infra.ContainerDefinition
			if err := td.JSON("containerDefinitions", &defs); err != nil {
				t.Fatal(err)
			}
			volumes := map[string]bool{}
			for i := 0; i < td.Len("volumes"); i++ {
				volumes[td.Str("volumes."+itoa(i)+".name")] = true
			}
			mounts := map[string]bool{}
			for _, mp := range defs[0].MountPoints {
				if !mp.ReadOnly && volumes[mp.SourceVolume] {
					mounts[mp.ContainerPath] = true
				}
			}
			needs := svc.Bool("enableExecuteCommand") && defs[0].ReadonlyRootFilesystem
			for _, path := range []string{"/var/lib/amazon/ssm", "/var/log/amazon/ssm"} {
				if needs && !mounts[path] {
					t.Errorf("service %s: ECS Exec on a read-only root, but %s is not a writable volume", svc.Name, path)
				}
				if !needs && mounts[path] {
					t.Errorf("service %s mounts %s without needing it", svc.Name, path)
				}
			}
		}
	})
}

// TestPeakRolloutHasRoomInEveryStack: a rollout keeps every old task until its replacement is
// healthy (minimum healthy 100 %), so at the highest task count a stack can reach, new tasks must
// still fit, or the deploy waits in PROVISIONING until the circuit breaker rolls it back. The rule:
// peak + a tenth of it (at least one) + the worker and one run of each job fit on maxInstances.
func TestPeakRolloutHasRoomInEveryStack(t *testing.T) {
	forEachVariantConfig(t, func(t *testing.T, stack, project string, v variant, cfg map[string]string) {
		get := func(key string) string { return cfg[project+":"+key] }
		c, err := config.ParseConfig(project, stack, cfg["aws:region"], get)
		if err != nil {
			t.Fatal(err)
		}
		peak, key := config.PeakTasks(c)
		need := peak + max(1, (peak+9)/10) + config.OtherTaskSlots(c)
		perInstance := min(c.Cluster.Shape.TaskMemoryMiB()/c.Service.Memory, c.Cluster.Shape.CPUUnits()/c.Service.CPU)
		spot := 0
		if s := c.Cluster.Capacity.Spot; s.Enabled {
			smallest := -1
			for _, it := range s.InstanceTypes {
				shape, _ := config.ParseInstanceType(it)
				if n := min(shape.TaskMemoryMiB()/c.Service.Memory, shape.CPUUnits()/c.Service.CPU); smallest < 0 || n < smallest {
					smallest = n
				}
			}
			spot = smallest * s.MaxInstances
		}
		if have := perInstance*c.Cluster.MaxInstances + spot; have < need {
			t.Errorf("peak %d (%s) needs room for %d tasks, the stack holds %d", peak, key, need, have)
		}
		// One instance fewer than the rule needs must be refused, naming the setting.
		fewer := (need-spot+perInstance-1)/perInstance - 1
		if fewer < c.Cluster.MinInstances || fewer < 1 {
			return
		}
		cfg[project+":maxInstances"] = itoa(fewer)
		if _, err := config.ParseConfig(project, stack, cfg["aws:region"], get); err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("maxInstances %d holds less than the peak rollout needs, but validation says %v", fewer, err)
		}
	})
}

// descriptionLimits are AWS's maximum description lengths: IAM CreateRole 1000; EventBridge
// Scheduler CreateSchedule 512; EventBridge PutRule 512; Secrets Manager CreateSecret 2048. Every
// other type must stay within 255, the limit of EC2 CreateSecurityGroup, the smallest of them.
var descriptionLimits = map[string]int{
	roleType: 1000, "aws:scheduler/schedule:Schedule": 512, "aws:cloudwatch/eventRule:EventRule": 512,
	"aws:secretsmanager/secret:Secret": 2048,
}

// TestDescriptionsFitAWSLimits runs each stack with a job whose command is long, since a job's
// schedule describes its command.
func TestDescriptionsFitAWSLimits(t *testing.T) {
	for _, stack := range stackFiles(t) {
		project, cfg := variantConfig(t, stack, variant{})
		long := strings.Repeat("x", 700)
		jobs, _ := json.Marshal([]map[string]any{{"name": "long", "schedule": "rate(1 hour)", "command": []string{"sh", "-c", "echo " + long + " é"}}})
		cfg[project+":jobs"] = string(jobs)
		m, err := pulumitest.Run(project, stack, cfg, program)
		if err != nil {
			t.Fatalf("%s: %v", stack, err)
		}
		described := 0
		for _, r := range m.Resources() {
			d := r.Str("description")
			if d == "" {
				continue
			}
			described++
			limit, ok := descriptionLimits[r.Type]
			if !ok {
				limit = 255
			}
			if len(d) > limit {
				t.Errorf("%s: %s %s has a %d-character description; AWS allows %d", stack, r.Type, r.Name, len(d), limit)
			}
		}
		if described < 10 {
			t.Errorf("%s: only %d descriptions checked", stack, described)
		}
	}
}

// TestDatabaseRotationRedeploysEveryServiceThatReadsIt: with manageMasterUserPassword RDS rotates
// the master secret (every 7 days by default) and ECS resolves secrets only when a task starts, so
// each rotation must replace every running task that holds DB_PASSWORD: a rule on the secret's
// RotationSucceeded event starts a state machine that forces a new deployment of exactly those
// services, with roles that allow exactly that.
func TestDatabaseRotationRedeploysEveryServiceThatReadsIt(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		secretArn, _ := m.Exports["databaseSecretArn"].(string)
		if secretArn == "" {
			if m.Named("aws:sfn/stateMachine:StateMachine", "db-rotation") != nil {
				t.Error("a redeploy state machine without a database")
			}
			return
		}
		// Which services read the password: their task definitions reference the secret.
		tds := map[string]string{}
		for _, td := range m.OfType("aws:ecs/taskDefinition:TaskDefinition") {
			tds[td.Out("arn")] = td.Str("containerDefinitions")
		}
		var readers []string
		for _, svc := range m.OfType("aws:ecs/service:Service") {
			if strings.Contains(tds[svc.Str("taskDefinition")], secretArn+":password::") {
				readers = append(readers, svc.Out("name"))
			}
		}
		sort.Strings(readers)
		if len(readers) == 0 {
			t.Fatal("no service reads the database password")
		}

		rule := m.Named("aws:cloudwatch/eventRule:EventRule", "db-rotation-rule")
		if want := infra.RotationEventPattern(secretArn); rule.Str("eventPattern") != want {
			t.Errorf("rule pattern %s, want %s", rule.Str("eventPattern"), want)
		}
		var pattern struct {
			Source []string `json:"source"`
			Detail struct {
				EventName []string            `json:"eventName"`
				Extra     map[string][]string `json:"additionalEventData"`
			} `json:"detail"`
		}
		if err := json.Unmarshal([]byte(rule.Str("eventPattern")), &pattern); err != nil ||
			strings.Join(pattern.Source, ",") != "aws.secretsmanager" || strings.Join(pattern.Detail.EventName, ",") != "RotationSucceeded" ||
			strings.Join(pattern.Detail.Extra["SecretId"], ",") != secretArn {
			t.Errorf("rule does not match this secret's RotationSucceeded: %s (%v)", rule.Str("eventPattern"), err)
		}
		machine := m.Named("aws:sfn/stateMachine:StateMachine", "db-rotation")
		target := m.Named("aws:cloudwatch/eventTarget:EventTarget", "db-rotation-target")
		if target.Str("rule") != rule.Out("name") || target.Str("arn") != machine.Out("arn") {
			t.Errorf("the rule's target is %q, not the state machine", target.Str("arn"))
		}

		var def struct {
			StartAt string
			States  map[string]struct {
				Type, Resource, Next string
				End                  bool
				Parameters           struct {
					Cluster, Service   string
					ForceNewDeployment bool
				}
			}
		}
		if err := json.Unmarshal([]byte(machine.Str("definition")), &def); err != nil {
			t.Fatal(err)
		}
		var redeployed []string
		for name, steps := def.StartAt, 0; name != "" && steps < 10; steps++ {
			st := def.States[name]
			if st.Resource != "arn:aws:states:::aws-sdk:ecs:updateService" || !st.Parameters.ForceNewDeployment ||
				st.Parameters.Cluster != one(t, m, "aws:ecs/cluster:Cluster").Out("arn") {
				t.Errorf("state %q does not force a new deployment in the stack's cluster: %+v", name, st)
			}
			redeployed = append(redeployed, st.Parameters.Service)
			if st.End {
				break
			}
			name = st.Next
		}
		sort.Strings(redeployed)
		if strings.Join(redeployed, ",") != strings.Join(readers, ",") {
			t.Errorf("rotation redeploys %v, want every reader %v", redeployed, readers)
		}

		g := newGraph(m)
		allowed := map[string][]string{}
		for action, resources := range g.grants(t, machine) {
			// Log delivery actions take no resource ARN; they only deliver the run logs.
			if strings.HasPrefix(action, "logs:") && strings.Join(resources, ",") == "*" {
				continue
			}
			allowed[action] = resources
		}
		clusterArn := one(t, m, "aws:ecs/cluster:Cluster").Out("arn")
		var want []string
		for _, r := range readers {
			want = append(want, strings.Replace(clusterArn, ":cluster/", ":service/", 1)+"/"+r)
		}
		if len(allowed) != 1 || fmt.Sprint(allowed["ecs:UpdateService"]) != fmt.Sprint(want) {
			t.Errorf("state machine may %v, want only ecs:UpdateService on %v", allowed, want)
		}
	})
}

// TestEveryStackServesItsDomainOverHTTPS: with a domain, in every stack file, the HTTPS listener
// waits for the certificate ACM issued for exactly the names (CertificateValidation, after a record
// per name), sends HSTS, port 80 only redirects, each name points at the load balancer, and url is
// https on the name. With certificateArn as well, validation refuses the stack, naming both keys.
func TestEveryStackServesItsDomainOverHTTPS(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		if v.name != "domain" {
			if len(m.OfType("aws:acm/certificate:Certificate"))+len(m.OfType("aws:route53/record:Record")) != 0 {
				t.Error("certificate or DNS records without a domain")
			}
			return
		}
		names := []string{"api.example.com", "www.example.com"}
		cert := one(t, m, "aws:acm/certificate:Certificate")
		validation := one(t, m, "aws:acm/certificateValidation:CertificateValidation")
		alb := one(t, m, "aws:lb/loadBalancer:LoadBalancer")
		g := newGraph(m)
		waits := g.waitsFor(validation)
		aliases := map[string]bool{}
		for _, r := range m.OfType("aws:route53/record:Record") {
			switch r.Str("type") {
			case "CNAME":
				if !waits[r.URN] {
					t.Errorf("the validation does not wait for record %s", r.Name)
				}
			case "A":
				if r.Str("aliases.0.name") == alb.Out("dnsName") {
					aliases[r.Str("name")] = true
				}
			}
		}
		for _, host := range names {
			if !aliases[host] {
				t.Errorf("%s does not point at the load balancer", host)
			}
		}
		if got := append([]string{cert.Str("domainName")}, cert.Strs("subjectAlternativeNames")...); strings.Join(got, ",") != strings.Join(names, ",") {
			t.Errorf("certificate covers %v, want %v", got, names)
		}
		for _, l := range m.OfType("aws:lb/listener:Listener") {
			switch l.Str("protocol") {
			case "HTTPS":
				if !g.waitsFor(l)[validation.URN] || l.Str("certificateArn") != validation.Out("certificateArn") {
					t.Error("the HTTPS listener does not wait for the issued certificate")
				}
				if !strings.HasPrefix(l.Str("routingHttpResponseStrictTransportSecurityHeaderValue"), "max-age=") {
					t.Error("HTTPS responses carry no HSTS")
				}
			case "HTTP":
				if l.Str("defaultActions.0.type") != "redirect" {
					t.Error("port 80 serves instead of redirecting")
				}
			}
		}
		if m.Exports["url"] != "https://api.example.com" || m.Exports["certificateArn"] != validation.Out("certificateArn") {
			t.Errorf("outputs url %v certificateArn %v", m.Exports["url"], m.Exports["certificateArn"])
		}
		if got := fmt.Sprint(m.Exports["domainNames"]); got != fmt.Sprint(names) {
			t.Errorf("domainNames output %v", m.Exports["domainNames"])
		}

		project, cfg := variantConfig(t, stack, v)
		cfg[project+":certificateArn"] = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
		_, err := config.ParseConfig(project, stack, cfg["aws:region"], func(key string) string { return cfg[project+":"+key] })
		if err == nil || !strings.Contains(err.Error(), "domain: and certificateArn are both set") {
			t.Errorf("domain with certificateArn: %v", err)
		}
	})
}

// jobSchedules are the schedules of the ScheduledJobs component: a job's, not another component's
// (the rotation reconcile has one too).
func jobSchedules(m *pulumitest.Mocks) []*pulumitest.Resource {
	var out []*pulumitest.Resource
	for _, s := range m.OfType("aws:scheduler/schedule:Schedule") {
		if strings.HasSuffix(string(resource.URN(s.Parent).Type()), ":infra:ScheduledJobs") {
			out = append(out, s)
		}
	}
	return out
}

// TestEveryJobRunsThroughItsStateMachine follows each job of every stack file from its schedule to
// its task: the schedule starts exactly its state machine, whose run state runs exactly the job's
// task definition, and whose role may run only that family and list only its own executions.
func TestEveryJobRunsThroughItsStateMachine(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		g := newGraph(m)
		schedules := jobSchedules(m)
		if len(schedules) == 0 {
			t.Fatal("no job in the stack file: the check would prove nothing")
		}
		for _, s := range schedules {
			machine := g.byValue[s.Str("target.arn")]
			if machine == nil || machine.Type != "aws:sfn/stateMachine:StateMachine" {
				t.Errorf("schedule %s starts %q, not a state machine of the stack", s.Name, s.Str("target.arn"))
				continue
			}
			var def struct {
				States map[string]struct {
					Parameters struct{ TaskDefinition string }
				}
			}
			if err := machine.JSON("definition", &def); err != nil {
				t.Fatal(err)
			}
			td := g.byValue[def.States[infra.JobRunState].Parameters.TaskDefinition]
			if td == nil || td.Name != s.Name+"-task" {
				t.Errorf("%s runs %v, not its own task definition", s.Name, td)
				continue
			}
			grants := g.grants(t, machine)
			family := td.Str("family")
			if run := strings.Join(grants["ecs:RunTask"], ","); !strings.HasSuffix(run, ":task-definition/"+family+":*") || strings.Contains(run, ",") {
				t.Errorf("%s: the run role may run %q, want only the %s family", s.Name, run, family)
			}
			if list := strings.Join(grants["states:ListExecutions"], ","); list != machine.Out("arn") {
				t.Errorf("%s: the guard may list %q, want only its own runs", s.Name, list)
			}
		}
	})
}

// TestPolicySuiteHoldsForEveryVariant: the controls hold whichever parts a stack turns on (Spot, a
// worker, alerts, NAT instances, no NAT, an existing VPC...), with the stack file's own waivers; a
// waiver may find nothing to waive in a variant (a domain variant needs no ELB.1 waiver).
func TestPolicySuiteHoldsForEveryVariant(t *testing.T) {
	forEachVariantConfig(t, func(t *testing.T, stack, project string, v variant, cfg map[string]string) {
		m, err := pulumitest.Run(project, stack, cfg, program)
		if err != nil {
			t.Fatalf("program failed: %v", err)
		}
		waivers := map[string]string{}
		if raw := cfg[project+":policyWaivers"]; raw != "" {
			if err := json.Unmarshal([]byte(raw), &waivers); err != nil {
				t.Fatal(err)
			}
		}
		res, err := policy.Evaluate(policyStack(stack, m), waivers)
		if err != nil {
			t.Fatal(err)
		}
		for _, violation := range res.Violations {
			t.Errorf("%s", violation)
		}
	})
}

// autoNameLimits are AWS's limits on the names Pulumi makes up for resources without one: the logical
// name, a hyphen and 7 random characters, which the provider refuses when they do not fit (tfbridge's
// autonaming does not truncate). IAM CreateRole 64, PutRolePolicy 128, CreateInstanceProfile 128;
// EventBridge PutRule 64; Scheduler CreateSchedule 64; Step Functions CreateStateMachine 80; SQS
// CreateQueue 80; ELB load balancers and target groups 32; ElastiCache replication groups 40; RDS
// instance identifiers 63; launch templates 128; everything else named here 255.
var autoNameLimits = map[string]int{
	roleType: 64, "aws:iam/rolePolicy:RolePolicy": 128, "aws:iam/instanceProfile:InstanceProfile": 128,
	"aws:cloudwatch/eventRule:EventRule": 64, "aws:scheduler/schedule:Schedule": 64, "aws:sfn/stateMachine:StateMachine": 80,
	"aws:sqs/queue:Queue": 80, "aws:lb/loadBalancer:LoadBalancer": 32, "aws:lb/targetGroup:TargetGroup": 32,
	"aws:elasticache/replicationGroup:ReplicationGroup": 40, "aws:rds/instance:Instance": 63,
	"aws:ec2/launchTemplate:LaunchTemplate": 128, "aws:autoscaling/group:Group": 255, "aws:ec2/securityGroup:SecurityGroup": 255,
	"aws:cloudwatch/metricAlarm:MetricAlarm": 255, "aws:sns/topic:Topic": 256, "aws:ecs/service:Service": 255,
	"aws:ecs/cluster:Cluster": 255, "aws:ecs/capacityProvider:CapacityProvider": 255, "aws:cloudwatch/logGroup:LogGroup": 512,
}

// autoNameSuffix is what Pulumi adds to a logical name: "-" and 7 random characters.
const autoNameSuffix = 8

// TestAutoNamesFitAWSLimits runs every stack file with everything on and jobs of the longest name
// config allows (32 characters), and checks every auto-named resource's name would fit.
func TestAutoNamesFitAWSLimits(t *testing.T) {
	forEachVariantConfig(t, func(t *testing.T, stack, project string, v variant, cfg map[string]string) {
		if v.name != "everything" {
			return
		}
		jobs, _ := json.Marshal([]map[string]any{
			{"name": strings.Repeat("j", 32), "schedule": "rate(1 day)", "command": []string{"true"}},
		})
		cfg[project+":jobs"] = string(jobs)
		cfg[project+":maxInstances"] = "20"
		m, err := pulumitest.Run(project, stack, cfg, program)
		if err != nil {
			t.Fatalf("program failed: %v", err)
		}
		checked := 0
		for _, r := range m.Resources() {
			limit, ok := autoNameLimits[r.Type]
			if !ok || r.Str("name") != "" || r.Str("namePrefix") != "" || r.Str("identifier") != "" || r.Str("replicationGroupId") != "" {
				continue
			}
			checked++
			if n := len(r.Name) + autoNameSuffix; n > limit {
				t.Errorf("%s %s: its auto-name has %d characters; AWS allows %d", r.Type, r.Name, n, limit)
			}
		}
		if checked < 20 {
			t.Errorf("only %d auto-named resources checked", checked)
		}
	})
}

// TestServiceRolesTrustOnlyThisAccountsUse (review C8): a role that an AWS service assumes on a
// resource's behalf is open to the cross-service confused deputy unless its trust policy names the
// account ("The confused deputy problem", IAM User Guide). Step Functions, EventBridge Scheduler,
// EventBridge, VPC flow logs and ECS task roles ("Amazon ECS task IAM role") document
// aws:SourceAccount in the trust policy; EC2 instance profiles and the ECS agent's task execution
// role ("Amazon ECS task execution IAM role", whose documented trust policy has no condition) do
// not, and a condition the service never sends would refuse every task start. Every role of every
// stack file and variant is checked, and each exception is named by what uses the role.
func TestServiceRolesTrustOnlyThisAccountsUse(t *testing.T) {
	services := map[string]int{}
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		g := newGraph(m)
		executionRoles, taskRoles := map[string]bool{}, map[string]bool{}
		for _, td := range m.OfType("aws:ecs/taskDefinition:TaskDefinition") {
			if role := g.byValue[td.Str("executionRoleArn")]; role != nil {
				executionRoles[role.URN] = true
			}
			if role := g.byValue[td.Str("taskRoleArn")]; role != nil {
				taskRoles[role.URN] = true
			}
		}
		if len(executionRoles) == 0 || len(taskRoles) == 0 {
			t.Fatalf("no task definition names its roles: the test would check nothing")
		}
		for _, role := range m.OfType(roleType) {
			var trust infra.PolicyDocument
			if err := role.JSON("assumeRolePolicy", &trust); err != nil || len(trust.Statement) != 1 {
				t.Fatalf("role %s: trust policy %q: %v", role.Name, role.Str("assumeRolePolicy"), err)
			}
			st := trust.Statement[0]
			service := st.Principal["Service"]
			services[service]++
			account := st.Condition["StringEquals"]["aws:SourceAccount"]
			exempt := service == "ec2.amazonaws.com" || (service == "ecs-tasks.amazonaws.com" && executionRoles[role.URN] && !taskRoles[role.URN])
			switch {
			case exempt && len(st.Condition) != 0:
				t.Errorf("role %s (%s) carries %v, which its service does not send", role.Name, service, st.Condition)
			case !exempt && account != pulumitest.Account:
				t.Errorf("role %s trusts %s for any account's use (condition %v), want aws:SourceAccount %s", role.Name, service, st.Condition, pulumitest.Account)
			}
		}
	})
	for _, want := range []string{"ecs-tasks.amazonaws.com", "ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com", "states.amazonaws.com", "scheduler.amazonaws.com", "events.amazonaws.com"} {
		if services[want] == 0 {
			t.Errorf("no role of any variant trusts %s: the variants are meant to exercise it", want)
		}
	}
}
