package infra_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const (
	rotationSecret  = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0f1e2d3c-AbCdEf"
	rotationCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/cluster-1"
	rotationAPI     = "api-1a2b3c4"
	rotationWorker  = "worker-5d6e7f8"
)

// reconcileMachine is a reconcile definition exactly as ReconcileDefinition writes it.
func reconcileMachine(t *testing.T) string {
	t.Helper()
	raw, err := infra.ReconcileDefinition("aws", rotationSecret, rotationCluster, []string{rotationAPI, rotationWorker})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// fakeRotationAWS answers the three calls the reconcile makes the way the SDK integration does
// ("Parameters in Step Functions are expressed in PascalCase", "Learning to use AWS service SDK
// integrations in Step Functions"): DescribeSecret with LastChangedDate, DescribeServices with the
// service's deployments (an ACTIVE one first, so only the PRIMARY filter finds the right one), and
// UpdateService, after which the service's PRIMARY deployment is created at now.
type fakeRotationAWS struct {
	t       *testing.T
	changed any            // the secret's LastChangedDate; nil leaves it out
	primary map[string]any // each service's PRIMARY deployment CreatedAt; nil leaves the deployment out
	now     any
	updated []string
}

func (f *fakeRotationAWS) call(resource string, params map[string]any) (any, error) {
	f.t.Helper()
	switch resource {
	case "arn:aws:states:::aws-sdk:secretsmanager:describeSecret":
		if params["SecretId"] != rotationSecret || len(params) != 1 {
			f.t.Errorf("DescribeSecret %v, want the database secret", params)
		}
		out := map[string]any{"ARN": rotationSecret, "Name": "rds!db-0f1e2d3c", "RotationEnabled": true, "OwningService": "rds"}
		if f.changed != nil {
			out["LastChangedDate"] = f.changed
		}
		return out, nil
	case "arn:aws:states:::aws-sdk:ecs:describeServices":
		services, _ := params["Services"].([]any)
		if params["Cluster"] != rotationCluster || len(services) != 1 || len(params) != 2 {
			f.t.Fatalf("DescribeServices %v, want one service of the cluster", params)
		}
		svc := services[0].(string)
		deployments := []any{map[string]any{"Id": "ecs-svc/1", "Status": "ACTIVE", "CreatedAt": "2020-01-01T00:00:00Z"}}
		if created, ok := f.primary[svc]; ok && created != nil {
			deployments = append(deployments, map[string]any{"Id": "ecs-svc/2", "Status": "PRIMARY", "CreatedAt": created})
		}
		return map[string]any{"Services": []any{map[string]any{"ServiceName": svc, "Deployments": deployments}}, "Failures": []any{}}, nil
	case "arn:aws:states:::aws-sdk:ecs:updateService":
		svc, _ := params["Service"].(string)
		if params["Cluster"] != rotationCluster || params["ForceNewDeployment"] != true || len(params) != 3 {
			f.t.Errorf("UpdateService %v, want only a forced new deployment", params)
		}
		f.updated = append(f.updated, svc)
		f.primary[svc] = f.now
		return map[string]any{"Service": map[string]any{"ServiceName": svc}}, nil
	}
	f.t.Fatalf("the reconcile calls %s", resource)
	return nil, nil
}

// reconcileRun runs a definition as the Amazon States Language specification (states-language.net)
// has Step Functions run it, for the constructs the reconcile uses: Task (static Parameters,
// ResultSelector fields ending ".$", ResultPath as a Reference Path or null, "which causes the
// state's input to become its output"), Choice, Succeed and Fail. It returns the terminal state's
// outcome: "Succeeded" or the Fail state's Error. Anything else fails the test, so that it never
// agrees with a construct it does not know.
func reconcileRun(t *testing.T, raw string, aws *fakeRotationAWS) string {
	t.Helper()
	var def struct {
		StartAt        string
		TimeoutSeconds int
		States         map[string]map[string]any
	}
	if err := json.Unmarshal([]byte(raw), &def); err != nil {
		t.Fatalf("definition is not JSON: %v", err)
	}
	var data any = map[string]any{} // Scheduler's input, "{}"
	name := def.StartAt
	for steps := 0; steps < 100; steps++ {
		st, ok := def.States[name]
		if !ok {
			t.Fatalf("no state %q", name)
		}
		switch st["Type"] {
		case "Task":
			params, _ := st["Parameters"].(map[string]any)
			for k := range params {
				if strings.HasSuffix(k, ".$") {
					t.Fatalf("%s: the evaluator knows only static Parameters, not %s", name, k)
				}
			}
			result, err := aws.call(st["Resource"].(string), params)
			if err != nil {
				t.Fatal(err)
			}
			if sel, ok := st["ResultSelector"].(map[string]any); ok {
				selected := map[string]any{}
				for k, p := range sel {
					field, ok := strings.CutSuffix(k, ".$")
					if !ok {
						t.Fatalf("%s: static ResultSelector field %s", name, k)
					}
					v, found := reconcilePath(t, p.(string), result)
					if !found {
						// A definite path that finds nothing fails the state as States.Runtime
						// ("Invalid path '$.x' : No results for path", the error emulators copy).
						return "States.Runtime"
					}
					selected[field] = v
				}
				result = selected
			}
			rp, present := st["ResultPath"]
			switch {
			case !present || rp == "$":
				data = result
			case rp == nil:
			default:
				field, ok := strings.CutPrefix(rp.(string), "$.")
				if !ok || strings.ContainsAny(field, ".[") {
					t.Fatalf("%s: ResultPath %v", name, rp)
				}
				data.(map[string]any)[field] = result
			}
			name = st["Next"].(string)
		case "Choice":
			next, _ := st["Default"].(string)
			for _, r := range st["Choices"].([]any) {
				rule := r.(map[string]any)
				if reconcileRule(t, rule, data, true) {
					next = rule["Next"].(string)
					break
				}
			}
			if next == "" {
				return "States.NoChoiceMatched"
			}
			name = next
		case "Succeed":
			return "Succeeded"
		case "Fail":
			return st["Error"].(string)
		default:
			t.Fatalf("%s: state type %v", name, st["Type"])
		}
	}
	t.Fatal("the run does not end")
	return ""
}

// reconcilePath applies a Path ("Paths follow JsonPath syntax", "Paths" in the Step Functions guide)
// with the steps the reconcile uses: .field, [n] and the filter [?(@.field == 'value')], after which
// the path is indefinite and gathers a list.
func reconcilePath(t *testing.T, p string, doc any) (any, bool) {
	t.Helper()
	rest, ok := strings.CutPrefix(p, "$")
	if !ok {
		t.Fatalf("%q is not a Path", p)
	}
	filter := regexp.MustCompile(`^\[\?\(@\.(\w+) == '([^']*)'\)\]`)
	nodes, indefinite := []any{doc}, false
	for rest != "" {
		var next []any
		switch {
		case strings.HasPrefix(rest, "."):
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			field := rest[1 : end+1]
			for _, n := range nodes {
				if m, ok := n.(map[string]any); ok {
					if v, ok := m[field]; ok {
						next = append(next, v)
					}
				}
			}
			rest = rest[end+1:]
		case filter.MatchString(rest):
			g := filter.FindStringSubmatch(rest)
			for _, n := range nodes {
				arr, _ := n.([]any)
				for _, e := range arr {
					if m, ok := e.(map[string]any); ok && m[g[1]] == g[2] {
						next = append(next, e)
					}
				}
			}
			indefinite, rest = true, rest[len(g[0]):]
		case strings.HasPrefix(rest, "["):
			end := strings.Index(rest, "]")
			i, err := strconv.Atoi(rest[1:end])
			if err != nil {
				t.Fatalf("path %q: the evaluator knows only .field, [n] and [?(@.field == 'value')]", p)
			}
			for _, n := range nodes {
				if arr, ok := n.([]any); ok && i < len(arr) {
					next = append(next, arr[i])
				}
			}
			rest = rest[end+1:]
		default:
			t.Fatalf("path %q: the evaluator knows only .field, [n] and [?(@.field == 'value')]", p)
		}
		nodes = next
	}
	if indefinite {
		return append([]any{}, nodes...), true
	}
	if len(nodes) != 1 {
		return nil, false
	}
	return nodes[0], true
}

// rfc3339 is the States Language's timestamp: "Timestamps ... must conform to RFC3339 profile ISO
// 8601, with further restrictions: An uppercase T must separate the date and time portions. An
// uppercase Z must denote that a numeric time zone offset isn't present" ("Choice" in the Step
// Functions guide).
var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)

func reconcileTimestamp(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok || !rfc3339.MatchString(s) {
		return time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	return ts, err == nil
}

// reconcileRule evaluates a Choice Rule as the Choice state's JSONPath rules are defined: And and Or
// over nested rules, Variable with IsPresent, IsTimestamp, IsNumeric, and the Path comparisons
// ("the value of variable can be compared with another value from the state input by appending Path
// to name of supported comparison operators", "Choice" in the Step Functions guide). A rule at the
// top carries Next; a nested one must not. Numeric comparisons with a literal number
// (NumericLessThan, NumericGreaterThanEquals...) compare the Variable with it. A comparison of a missing Variable is the run's error in
// Step Functions, so it fails the test; so does a comparison of values not of its type, which the
// reconcile promises never to make.
func reconcileRule(t *testing.T, rule map[string]any, data any, top bool) bool {
	t.Helper()
	ops := map[string]any{}
	for k, v := range rule {
		if k != "Next" {
			ops[k] = v
		}
	}
	if _, hasNext := rule["Next"]; hasNext != top {
		t.Fatalf("rule %v: Next belongs on top-level rules only", rule)
	}
	if sub, ok := ops["And"].([]any); ok && len(ops) == 1 {
		all := true
		for _, r := range sub {
			all = reconcileRule(t, r.(map[string]any), data, false) && all
		}
		return all
	}
	if sub, ok := ops["Or"].([]any); ok && len(ops) == 1 {
		anyTrue := false
		for _, r := range sub {
			anyTrue = reconcileRule(t, r.(map[string]any), data, false) || anyTrue
		}
		return anyTrue
	}
	variable, _ := ops["Variable"].(string)
	if variable == "" || len(ops) != 2 {
		t.Fatalf("rule %v: want a Variable and one operator", rule)
	}
	v, present := reconcilePath(t, variable, data)
	for op, want := range ops {
		switch op {
		case "Variable":
		case "IsPresent":
			return present == want
		case "IsTimestamp", "IsNumeric":
			if !present {
				t.Fatalf("rule %v: %s of a missing %s fails the run", rule, op, variable)
			}
			_, isTime := reconcileTimestamp(v)
			_, isNum := v.(float64)
			return map[string]bool{"IsTimestamp": isTime, "IsNumeric": isNum}[op] == want
		case "TimestampLessThanPath", "NumericLessThanPath":
			other, found := reconcilePath(t, want.(string), data)
			if !present || !found {
				t.Fatalf("rule %v: a comparison with a missing value fails the run", rule)
			}
			if op == "NumericLessThanPath" {
				a, okA := v.(float64)
				b, okB := other.(float64)
				if !okA || !okB {
					t.Fatalf("rule %v: compares %v with %v as numbers", rule, v, other)
				}
				return a < b
			}
			a, okA := reconcileTimestamp(v)
			b, okB := reconcileTimestamp(other)
			if !okA || !okB {
				t.Fatalf("rule %v: compares %v with %v as timestamps", rule, v, other)
			}
			return a.Before(b)
		case "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals":
			a, okA := v.(float64)
			b, okB := want.(float64)
			if !present || !okA || !okB {
				t.Fatalf("rule %v: compares %v with %v as numbers", rule, v, want)
			}
			return map[string]bool{"NumericLessThan": a < b, "NumericLessThanEquals": a <= b,
				"NumericGreaterThan": a > b, "NumericGreaterThanEquals": a >= b}[op]
		default:
			t.Fatalf("rule %v: the evaluator does not know %s", rule, op)
		}
	}
	return false
}

// TestReconcileRedeploysExactlyTheServicesOlderThanTheSecret runs the reconcile's definition, raw,
// on both sides of the bound: a service whose PRIMARY deployment was created before the secret last
// changed is redeployed (its tasks may hold the old password: "Sensitive data is injected into
// your container when the container is initially started. If the secret is subsequently updated or
// rotated, the container will not receive the updated value automatically", "Pass Secrets Manager
// secrets through Amazon ECS environment variables", ECS guide), one created after it is left
// alone, a tie included (every task of that deployment started after the change). The dates come as RFC
// 3339 strings with Z or as epoch seconds (boto3#2845 shows ECS's wire form), the two forms the SDK
// integration may give a Timestamp member; anything else fails the run as DatesUnreadable instead of
// passing for "nothing to do". Two numbers are compared only as epoch seconds (review R4): with the
// secret's change in seconds and a deployment's creation in milliseconds, a thousand times larger,
// the comparison would find every service current, so a number outside infra.EpochSecondsMin and
// infra.EpochSecondsMax fails the run as DatesUnreadable too.
func TestReconcileRedeploysExactlyTheServicesOlderThanTheSecret(t *testing.T) {
	const (
		changed = "2025-06-01T03:00:00.250Z"
		before  = "2025-06-01T03:00:00.249Z"
		after   = "2025-06-01T03:00:00.251Z"
		later   = "2025-06-01T03:20:00Z"
	)
	epoch := func(s string) float64 {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return float64(ts.UnixMilli()) / 1000
	}
	for _, tc := range []struct {
		name        string
		changed     any
		api, worker any
		want        []string
		outcome     string
	}{
		{"only the deployment older than the change", changed, before, after, []string{rotationAPI}, "Succeeded"},
		{"both older", changed, before, "2025-05-20T10:00:00Z", []string{rotationAPI, rotationWorker}, "Succeeded"},
		{"both newer", changed, after, later, nil, "Succeeded"},
		{"created at the change", changed, changed, changed, nil, "Succeeded"},
		{"the same instant with another offset and precision", "2025-06-01T03:00:00.25Z", "2025-06-01T05:00:00.249+02:00", after, []string{rotationAPI}, "Succeeded"},
		{"epoch seconds, one older", epoch(changed), epoch(after), epoch(before), []string{rotationWorker}, "Succeeded"},
		{"epoch seconds, both newer", epoch(changed), epoch(after), epoch(later), nil, "Succeeded"},
		{"a string and a number", changed, epoch(before), after, nil, infra.ErrReconcileDatesUnreadable},
		{"the change in seconds, a deployment in milliseconds", 1748746800.0, 1748606400000.0, epoch(after), nil, infra.ErrReconcileDatesUnreadable},
		{"the change in milliseconds, a deployment in seconds", 1748746800000.0, 1748606400.0, epoch(after), nil, infra.ErrReconcileDatesUnreadable},
		{"both in milliseconds", 1748746800000.0, 1748606400000.0, 1748746900000.0, nil, infra.ErrReconcileDatesUnreadable},
		{"the epoch's first seconds", 1748746800.0, 0.0, epoch(after), nil, infra.ErrReconcileDatesUnreadable},
		{"a date that is not RFC 3339", "Sun Jun 01 03:00:00 UTC 2025", before, after, nil, infra.ErrReconcileDatesUnreadable},
		{"a lowercase t", changed, "2025-06-01t03:00:00Z", after, nil, infra.ErrReconcileDatesUnreadable},
		{"no PRIMARY deployment", changed, nil, after, nil, infra.ErrReconcileDatesUnreadable},
		{"no LastChangedDate", nil, before, after, nil, "States.Runtime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aws := &fakeRotationAWS{t: t, changed: tc.changed, primary: map[string]any{rotationAPI: tc.api, rotationWorker: tc.worker}, now: later}
			if outcome := reconcileRun(t, reconcileMachine(t), aws); outcome != tc.outcome {
				t.Errorf("run ends %s, want %s", outcome, tc.outcome)
			}
			if !slices.Equal(aws.updated, tc.want) {
				t.Errorf("redeploys %v, want exactly %v", aws.updated, tc.want)
			}
		})
	}
}

// TestReconcileAndEventRedeployDoNotFight: a forced deployment's PRIMARY deployment is created after
// the change (UpdateService with forceNewDeployment starts a new deployment, "UpdateService", ECS
// API Reference), so the run after a reconcile's redeploy, or after the event-driven one, finds
// every service current and does nothing, with either date form.
func TestReconcileAndEventRedeployDoNotFight(t *testing.T) {
	for _, form := range []struct {
		name                  string
		changed, before, now  any
		eventRedeployedWorker any
	}{
		{"timestamps", "2025-06-01T03:00:00Z", "2025-05-30T12:00:00Z", "2025-06-01T03:15:02.5Z", "2025-06-01T03:00:04Z"},
		{"epoch seconds", 1748746800.0, 1748606400.0, 1748747702.5, 1748746804.0},
	} {
		t.Run(form.name, func(t *testing.T) {
			// The event path redeployed the worker 4 s after the change; the API was missed.
			aws := &fakeRotationAWS{t: t, changed: form.changed, now: form.now,
				primary: map[string]any{rotationAPI: form.before, rotationWorker: form.eventRedeployedWorker}}
			raw := reconcileMachine(t)
			if reconcileRun(t, raw, aws) != "Succeeded" || !slices.Equal(aws.updated, []string{rotationAPI}) {
				t.Fatalf("first run redeploys %v, want only the API the event missed", aws.updated)
			}
			aws.updated = nil
			if reconcileRun(t, raw, aws) != "Succeeded" || len(aws.updated) != 0 {
				t.Errorf("the next run redeploys %v again; a current deployment must stop the reconcile", aws.updated)
			}
		})
	}
}

// TestReconcileReadsOnlyWhatItCompares: the SDK integration names ("arn:aws:states:::aws-sdk:
// serviceName:apiAction", "Learning to use AWS service SDK integrations in Step Functions"), the
// PRIMARY filter and the paths as sent (json.Marshal escapes nothing in them), a run time shorter
// than the schedule's period, and a redeploy that keeps the secret's date for the next service
// ("ResultPath": null).
func TestReconcileReadsOnlyWhatItCompares(t *testing.T) {
	raw := reconcileMachine(t)
	for _, want := range []string{
		`"Resource":"arn:aws:states:::aws-sdk:secretsmanager:describeSecret"`,
		`"Resource":"arn:aws:states:::aws-sdk:ecs:describeServices"`,
		`"Resource":"arn:aws:states:::aws-sdk:ecs:updateService"`,
		`"PrimaryCreatedAt.$":"$.Services[0].Deployments[?(@.Status == 'PRIMARY')].CreatedAt"`,
		`"LastChangedDate.$":"$.LastChangedDate"`,
		`"TimestampLessThanPath":"$.secret.LastChangedDate"`,
		`"NumericLessThanPath":"$.secret.LastChangedDate"`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("definition lacks %s", want)
		}
	}
	var def struct {
		TimeoutSeconds int
		States         map[string]map[string]any
	}
	if err := json.Unmarshal([]byte(raw), &def); err != nil {
		t.Fatal(err)
	}
	if def.TimeoutSeconds <= 0 || def.TimeoutSeconds >= infra.ReconcileMinutes*60 {
		t.Errorf("a run may take %d s; with a run every %d minutes two would overlap", def.TimeoutSeconds, infra.ReconcileMinutes)
	}
	for _, svc := range []string{rotationAPI, rotationWorker} {
		redeploy := def.States["Redeploy "+svc]
		if rp, ok := redeploy["ResultPath"]; !ok || rp != nil {
			t.Errorf("Redeploy %s: ResultPath %v, want null so the next check still has the secret's date", svc, rp)
		}
	}
	if _, err := infra.ReconcileDefinition("aws", rotationSecret, rotationCluster, nil); err == nil {
		t.Error("a reconcile of no service is accepted")
	}
}

// buildRotation runs RedeployOnRotation alone, with the database secret, the cluster and two
// readers, as main.go wires it.
func buildRotation(t *testing.T) *pulumitest.Mocks {
	t.Helper()
	return build(t, map[string]string{"logRetentionDays": "30"}, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewRedeployOnRotation(ctx, "db-rotation", &infra.RedeployOnRotationArgs{
			SecretArn:        pulumi.String(rotationSecret),
			ClusterArn:       pulumi.String(rotationCluster),
			ServiceNames:     []pulumi.StringInput{pulumi.String(rotationAPI), pulumi.String(rotationWorker)},
			Partition:        "aws",
			LogRetentionDays: cfg.Service.LogRetentionDays,
		})
		return err
	})
}

// rotationGrants reads a role policy into action -> resources, failing on wildcards and conditions
// the test does not expect.
func rotationGrants(t *testing.T, policy *pulumitest.Resource) map[string][]string {
	t.Helper()
	var doc infra.PolicyDocument
	if err := policy.JSON("policy", &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" || len(st.Condition) != 0 {
			t.Errorf("%s: statement %+v", policy.Name, st)
		}
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %q", policy.Name, a)
			}
			out[a] = append(out[a], st.Resource...)
		}
	}
	return out
}

// rotationTrust is the one service a role trusts and the account it trusts it for.
func rotationTrust(t *testing.T, role *pulumitest.Resource) (service, account string) {
	t.Helper()
	var trust infra.PolicyDocument
	if err := role.JSON("assumeRolePolicy", &trust); err != nil || len(trust.Statement) != 1 {
		t.Fatalf("%s trust %+v (%v)", role.Name, trust, err)
	}
	st := trust.Statement[0]
	return st.Principal["Service"], st.Condition["StringEquals"]["aws:SourceAccount"]
}

// TestReconcileRolesAreScopedToTheSecretAndTheReaders: the reconcile's role may DescribeSecret the
// database secret and DescribeServices and UpdateService exactly the readers, by their long ARNs
// (each action takes the service resource: "Actions, resources, and condition keys for Amazon
// Elastic Container Service", Service Authorization Reference), and deliver its logs; the
// scheduler's may only start the reconcile. Both trust one service, for this account only ("The
// confused deputy problem", IAM User Guide), and the event path's role is unchanged.
func TestReconcileRolesAreScopedToTheSecretAndTheReaders(t *testing.T) {
	m := buildRotation(t)
	const roleType, policyType, machineType = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:sfn/stateMachine:StateMachine"
	readers := []string{
		"arn:aws:ecs:us-east-1:123456789012:service/cluster-1/" + rotationAPI,
		"arn:aws:ecs:us-east-1:123456789012:service/cluster-1/" + rotationWorker,
	}
	machine := named(t, m, machineType, "db-rotation-reconcile")

	role := named(t, m, roleType, "db-rotation-reconcile-sfn-role")
	if svc, account := rotationTrust(t, role); svc != "states.amazonaws.com" || account != pulumitest.Account || machine.Str("roleArn") != role.Out("arn") {
		t.Errorf("the reconcile runs as %q trusting %s for %q, want its own role trusting Step Functions for this account", machine.Str("roleArn"), svc, account)
	}
	policy := named(t, m, policyType, "db-rotation-reconcile-sfn-policy")
	g := rotationGrants(t, policy)
	want := map[string][]string{
		"secretsmanager:DescribeSecret": {rotationSecret},
		"ecs:DescribeServices":          readers,
		"ecs:UpdateService":             readers,
	}
	if len(g) != len(want) || policy.Str("role") != role.Out("name") {
		t.Errorf("the reconcile may %v, want exactly %v", g, want)
	}
	for action, resources := range want {
		if !slices.Equal(sorted(g[action]), sorted(resources)) {
			t.Errorf("%s on %v, want %v", action, g[action], resources)
		}
	}
	for action, resources := range rotationGrants(t, named(t, m, policyType, "db-rotation-reconcile-sfn-logs")) {
		if !strings.HasPrefix(action, "logs:") || strings.Join(resources, ",") != "*" {
			t.Errorf("log delivery policy grants %s on %v", action, resources)
		}
	}
	for _, p := range m.OfType(policyType) {
		if p.Str("role") == role.Out("name") && p != policy && p.Name != "db-rotation-reconcile-sfn-logs" {
			t.Errorf("the reconcile's role has another policy, %s", p.Name)
		}
	}

	schedulerRole := named(t, m, roleType, "db-rotation-reconcile-scheduler-role")
	if svc, account := rotationTrust(t, schedulerRole); svc != "scheduler.amazonaws.com" || account != pulumitest.Account {
		t.Errorf("the schedule's role trusts %s for %q, want Scheduler for this account", svc, account)
	}
	sg := rotationGrants(t, named(t, m, policyType, "db-rotation-reconcile-scheduler-policy"))
	dlq := named(t, m, "aws:sqs/queue:Queue", "db-rotation-reconcile-dlq")
	if len(sg) != 2 || strings.Join(sg["states:StartExecution"], ",") != machine.Out("arn") || strings.Join(sg["sqs:SendMessage"], ",") != dlq.Out("arn") {
		t.Errorf("the scheduler may %v, want only StartExecution on the reconcile and SendMessage to its dead-letter queue", sg)
	}

	eg := rotationGrants(t, named(t, m, policyType, "db-rotation-sfn-policy"))
	if len(eg) != 1 || !slices.Equal(sorted(eg["ecs:UpdateService"]), readers) {
		t.Errorf("the event path may %v, want only UpdateService on the readers", eg)
	}
}

// TestReconcileScheduleStartsTheReconcileAfterItsPermissions: EventBridge Scheduler ("We recommend
// that you use Scheduler to invoke targets on a schedule", "Creating a scheduled rule (legacy)",
// EventBridge User Guide) starts the reconcile every 15 minutes on the dot (no flexible window),
// gives up a start it could not make before the next one is due, and exists only after every
// policy its start and the run use, since the first run may come right away. What it gives up goes
// to a dead-letter queue ("When a schedule fails to invoke its target, EventBridge Scheduler
// delivers a JSON payload containing invocation details ... to an Amazon SQS standard queue that
// you specify", after "exhausting the maximum number of retries you set": "Configuring a schedule's
// dead-letter queue", EventBridge Scheduler User Guide), encrypted and kept 14 days, which the
// monitoring's db-reconcile-dlq alarm watches: a reconcile that never starts would otherwise bound
// nothing, unseen. The reconcile is a standard
// workflow that logs every run (StepFunctions.1), whose definition is the one the evaluator runs.
func TestReconcileScheduleStartsTheReconcileAfterItsPermissions(t *testing.T) {
	m := buildRotation(t)
	schedules := m.OfType("aws:scheduler/schedule:Schedule")
	if len(schedules) != 1 {
		t.Fatalf("%d schedules, want the reconcile's", len(schedules))
	}
	s := schedules[0]
	machine := named(t, m, "aws:sfn/stateMachine:StateMachine", "db-rotation-reconcile")
	role := named(t, m, "aws:iam/role:Role", "db-rotation-reconcile-scheduler-role")
	if s.Name != "db-rotation-reconcile" || s.Str("scheduleExpression") != "rate(15 minutes)" || infra.ReconcileMinutes != 15 ||
		s.Str("flexibleTimeWindow.mode") != "OFF" || s.Str("state") != "ENABLED" {
		t.Errorf("schedule %s: %q, window %q, state %q", s.Name, s.Str("scheduleExpression"), s.Str("flexibleTimeWindow.mode"), s.Str("state"))
	}
	if s.Str("target.arn") != machine.Out("arn") || s.Str("target.roleArn") != role.Out("arn") || s.Str("target.input") != "{}" {
		t.Errorf("schedule targets %q as %q with %q, want the reconcile as its own role", s.Str("target.arn"), s.Str("target.roleArn"), s.Str("target.input"))
	}
	if age := s.Num("target.retryPolicy.maximumEventAgeInSeconds"); age < 60 || age > float64(infra.ReconcileMinutes*60) {
		t.Errorf("a start may be retried for %v s; past the next run it only repeats it", age)
	}
	dlq := named(t, m, "aws:sqs/queue:Queue", "db-rotation-reconcile-dlq")
	if s.Str("target.deadLetterConfig.arn") != dlq.Out("arn") || !dlq.Bool("sqsManagedSseEnabled") || dlq.Num("messageRetentionSeconds") != 14*24*3600 {
		t.Errorf("the schedule's dead letters go to %q; want the encrypted, 14-day queue %s", s.Str("target.deadLetterConfig.arn"), dlq.Out("arn"))
	}
	for _, p := range []string{"db-rotation-reconcile-scheduler-policy", "db-rotation-reconcile-sfn-policy"} {
		if !s.DependsOn(named(t, m, "aws:iam/rolePolicy:RolePolicy", p)) {
			t.Errorf("the schedule can start a run before %s exists", p)
		}
	}
	for _, p := range []string{"db-rotation-reconcile-sfn-policy", "db-rotation-reconcile-sfn-logs"} {
		if !machine.DependsOn(named(t, m, "aws:iam/rolePolicy:RolePolicy", p)) {
			t.Errorf("the reconcile can exist before %s", p)
		}
	}

	logs := named(t, m, "aws:cloudwatch/logGroup:LogGroup", "db-rotation-reconcile-sfn-logs")
	if machine.Str("type") != "STANDARD" || machine.Str("loggingConfiguration.level") != "ALL" ||
		machine.Str("loggingConfiguration.logDestination") != logs.Out("arn")+":*" ||
		logs.Str("name") != "/aws/vendedlogs/states/ecs-api-test-db-rotation-reconcile" || logs.Num("retentionInDays") != 30 {
		t.Errorf("reconcile %s logs %v to %q kept %v days", machine.Str("type"), machine.Inputs["loggingConfiguration"], logs.Str("name"), logs.Num("retentionInDays"))
	}
	raw := machine.Str("definition")
	if raw != reconcileMachine(t) {
		t.Fatalf("the deployed definition is not ReconcileDefinition's:\n%s", raw)
	}
	aws := &fakeRotationAWS{t: t, changed: "2025-06-01T03:00:00Z", now: "2025-06-01T03:15:00Z",
		primary: map[string]any{rotationAPI: "2025-05-01T00:00:00Z", rotationWorker: "2025-05-01T00:00:00Z"}}
	if outcome := reconcileRun(t, raw, aws); outcome != "Succeeded" || fmt.Sprint(aws.updated) != fmt.Sprint([]string{rotationAPI, rotationWorker}) {
		t.Errorf("the deployed reconcile ends %s redeploying %v, want both readers", outcome, aws.updated)
	}
}
