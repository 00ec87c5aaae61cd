package infra_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
)

const (
	testTaskDefinitionArn = "arn:aws:ecs:us-east-1:123456789012:task-definition/ecs-api-test-job-nightly-cleanup:7"
	selfExecution         = "arn:aws:states:us-east-1:123456789012:execution:jobs-nightly-cleanup-abc:self-run"
	otherExecution        = "arn:aws:states:us-east-1:123456789012:execution:jobs-nightly-cleanup-abc:other-run"
	thirdExecution        = "arn:aws:states:us-east-1:123456789012:execution:jobs-nightly-cleanup-abc:third-run"
)

var nightlyCleanup = config.JobConfig{Name: "nightly-cleanup", Command: []string{"node", "dist/jobs/cleanup.js"}, Timeout: 900, Retries: 3}

// rawDefinition is a job's state machine definition exactly as JobRunDefinition writes it, decoded
// only to be walked: the evaluator below reads the expressions AWS will read.
func rawDefinition(t *testing.T, job config.JobConfig) (string, map[string]any) {
	t.Helper()
	raw, err := infra.JobRunDefinition("aws", job, clusterArn, testTaskDefinitionArn, "cluster-capacity-1")
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	if err := json.Unmarshal([]byte(raw), &def); err != nil {
		t.Fatalf("definition is not JSON: %v\n%s", err, raw)
	}
	return raw, def
}

func stateOf(t *testing.T, states map[string]any, name string) map[string]any {
	t.Helper()
	st, ok := states[name].(map[string]any)
	if !ok {
		t.Fatalf("no state %q", name)
	}
	return st
}

// aslEval evaluates the Amazon States Language constructs the job's run uses, as the States Language
// specification (states-language.net) defines them: Paths ("When a Path begins with "$$" ... the
// JSONPath applying to the Context Object"), Payload Templates (fields ending ".$"), the intrinsics
// States.ArrayLength, States.ArrayContains and States.Format ("Intrinsic Function arguments may be
// strings enclosed by apostrophe (') characters, numbers, null, Paths, or nested Intrinsic
// Functions"), ResultPath, and Choice rules with NumericEquals, NumericGreaterThanEquals,
// BooleanEquals, And and Or. Anything else fails the test, so that it never agrees with a construct
// it does not know.
type aslEval struct {
	t       *testing.T
	context map[string]any
}

// path applies a Path: field steps and [*], which projects the rest of the path over an array and
// gathers what it finds, none included (the behaviour Step Functions shows for a wildcard that
// matches nothing: an empty array, not an error).
func (e aslEval) path(p string, input any) (any, bool) {
	e.t.Helper()
	doc := input
	if strings.HasPrefix(p, "$$") {
		doc, p = any(e.context), p[1:]
	}
	if !strings.HasPrefix(p, "$") {
		e.t.Fatalf("%q is not a Path", p)
	}
	nodes, projected := []any{doc}, false
	for rest := p[1:]; rest != ""; {
		switch {
		case strings.HasPrefix(rest, "[*]"):
			var next []any
			for _, n := range nodes {
				arr, ok := n.([]any)
				if !ok {
					return nil, false
				}
				next = append(next, arr...)
			}
			nodes, projected, rest = next, true, rest[3:]
		case strings.HasPrefix(rest, "."):
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			field := rest[1 : end+1]
			var next []any
			for _, n := range nodes {
				if v, ok := n.(map[string]any)[field]; ok {
					next = append(next, v)
				}
			}
			nodes, rest = next, rest[end+1:]
		default:
			e.t.Fatalf("path %q: the evaluator knows only .field and [*]", p)
		}
	}
	if projected {
		return append([]any{}, nodes...), true
	}
	if len(nodes) != 1 {
		return nil, false
	}
	return nodes[0], true
}

// splitArgs splits an intrinsic's argument list on the commas outside quotes and parentheses.
func splitArgs(s string) []string {
	var args []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '\'':
			quoted = !quoted
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted:
			depth--
		case c == ',' && !quoted && depth == 0:
			args = append(args, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		args = append(args, rest)
	}
	return args
}

func (e aslEval) arg(a string, input any) any {
	e.t.Helper()
	switch {
	case strings.HasPrefix(a, "$"):
		v, ok := e.path(a, input)
		if !ok {
			e.t.Fatalf("intrinsic argument %s matches nothing: States.Runtime, which no Catch catches", a)
		}
		return v
	case strings.HasPrefix(a, "'") && strings.HasSuffix(a, "'"):
		s := a[1 : len(a)-1]
		for _, esc := range []string{`'`, `{`, `}`} {
			s = strings.ReplaceAll(s, `\`+esc, esc)
		}
		if strings.Contains(s, `\`) {
			e.t.Fatalf("string argument %s: an escape the evaluator does not know", a)
		}
		return s
	case strings.HasPrefix(a, "States."):
		return e.intrinsic(a, input)
	}
	n, err := strconv.ParseFloat(a, 64)
	if err != nil {
		e.t.Fatalf("intrinsic argument %q is no string, number, Path or intrinsic", a)
	}
	return n
}

func (e aslEval) intrinsic(call string, input any) any {
	e.t.Helper()
	open := strings.Index(call, "(")
	if open < 0 || !strings.HasSuffix(call, ")") {
		e.t.Fatalf("%q is not an intrinsic call", call)
	}
	var args []any
	for _, a := range splitArgs(call[open+1 : len(call)-1]) {
		args = append(args, e.arg(a, input))
	}
	switch name := call[:open]; name {
	case "States.ArrayLength":
		arr, ok := args[0].([]any)
		if len(args) != 1 || !ok {
			e.t.Fatalf("%s: want one array, got %v", call, args)
		}
		return float64(len(arr))
	case "States.ArrayContains":
		arr, ok := args[0].([]any)
		if len(args) != 2 || !ok {
			e.t.Fatalf("%s: want an array and a value, got %v", call, args)
		}
		return slices.ContainsFunc(arr, func(v any) bool { return reflect.DeepEqual(v, args[1]) })
	case "States.Format":
		tmpl, ok := args[0].(string)
		if !ok || strings.Count(tmpl, "{}") != len(args)-1 {
			e.t.Fatalf("%s: the template's {} do not match the arguments", call)
		}
		for _, a := range args[1:] {
			tmpl = strings.Replace(tmpl, "{}", fmt.Sprint(a), 1)
		}
		return tmpl
	default:
		e.t.Fatalf("intrinsic %s: the evaluator does not know it", name)
		return nil
	}
}

// template processes a Payload Template: a field ending ".$" takes the value of its Path or
// intrinsic, under its name without the suffix.
func (e aslEval) template(tmpl map[string]any, input any) map[string]any {
	e.t.Helper()
	out := map[string]any{}
	for k, v := range tmpl {
		name, dynamic := strings.CutSuffix(k, ".$")
		switch {
		case !dynamic:
			if m, ok := v.(map[string]any); ok {
				v = e.template(m, input)
			}
			out[name] = v
		case strings.HasPrefix(v.(string), "$"):
			got, ok := e.path(v.(string), input)
			if !ok {
				e.t.Fatalf("%s: %s matches nothing: States.Runtime, which no Catch catches", k, v)
			}
			out[name] = got
		default:
			out[name] = e.intrinsic(v.(string), input)
		}
	}
	return out
}

// result is a Task or Map state's output: ResultSelector applied to the result, placed in the input
// by ResultPath ("$.field", or null to keep the input as it is).
func (e aslEval) result(st map[string]any, input map[string]any, result any) map[string]any {
	e.t.Helper()
	if sel, ok := st["ResultSelector"].(map[string]any); ok {
		result = e.template(sel, result)
	}
	rp, present := st["ResultPath"]
	if present && rp == nil {
		return input
	}
	field, ok := strings.CutPrefix(fmt.Sprint(rp), "$.")
	if !ok || strings.ContainsAny(field, ".[") {
		e.t.Fatalf("ResultPath %v: the evaluator knows only null and $.field", rp)
	}
	out := map[string]any{field: result}
	for k, v := range input {
		if k != field {
			out[k] = v
		}
	}
	return out
}

// rule evaluates one Choice rule.
func (e aslEval) rule(r map[string]any, input any) bool {
	e.t.Helper()
	if and, ok := r["And"].([]any); ok {
		for _, sub := range and {
			if !e.rule(sub.(map[string]any), input) {
				return false
			}
		}
		return true
	}
	if or, ok := r["Or"].([]any); ok {
		return slices.ContainsFunc(or, func(sub any) bool { return e.rule(sub.(map[string]any), input) })
	}
	v, ok := e.path(r["Variable"].(string), input)
	if !ok {
		e.t.Fatalf("Choice variable %v matches nothing: States.Runtime", r["Variable"])
	}
	var ops []string
	for op := range r {
		if op != "Variable" && op != "Next" {
			ops = append(ops, op)
		}
	}
	if len(ops) != 1 {
		e.t.Fatalf("Choice rule %v: want one comparison, got %v", r, ops)
	}
	switch want := r[ops[0]]; ops[0] {
	case "NumericEquals":
		return v.(float64) == want.(float64)
	case "NumericGreaterThanEquals":
		return v.(float64) >= want.(float64)
	case "BooleanEquals":
		return v.(bool) == want.(bool)
	default:
		e.t.Fatalf("Choice operator %s: the evaluator does not know it", ops[0])
		return false
	}
}

// choose is the state a Choice state goes to.
func (e aslEval) choose(st map[string]any, input any) string {
	e.t.Helper()
	for _, c := range st["Choices"].([]any) {
		if r := c.(map[string]any); e.rule(r, input) {
			return r["Next"].(string)
		}
	}
	return st["Default"].(string)
}

func execution(arn string) map[string]any {
	return map[string]any{
		"ExecutionArn":    arn,
		"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:jobs-nightly-cleanup-abc",
		"Name":            arn[strings.LastIndex(arn, ":")+1:],
		"Status":          "RUNNING",
		"StartDate":       "2026-12-01T03:00:00.000Z",
	}
}

// TestJobGuardSkipsOnlyWhenAnotherRunIsListed runs the guard's ResultSelector and Choice, as written,
// on ListExecutions results. The Step Functions API reference for ListExecutions: "Results are sorted
// by time, with the most recent execution first ... This operation is eventually consistent. The
// results are best effort and may not reflect very recent updates and changes." The guard runs just
// after its own StartExecution, so the list may lack this run: a list holding only another RUNNING
// run must skip (counting alone would let it run), and this run alone, or nothing, must run.
func TestJobGuardSkipsOnlyWhenAnotherRunIsListed(t *testing.T) {
	_, def := rawDefinition(t, nightlyCleanup)
	states := def["States"].(map[string]any)
	guard := stateOf(t, states, infra.JobGuardState)
	e := aslEval{t: t, context: map[string]any{
		"Execution":    map[string]any{"Id": selfExecution, "Name": "self-run"},
		"StateMachine": map[string]any{"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:jobs-nightly-cleanup-abc"},
	}}
	for _, tc := range []struct {
		name   string
		listed []string
		want   string
	}{
		{"nothing listed yet", nil, infra.JobRunState},
		{"only this run", []string{selfExecution}, infra.JobRunState},
		{"only another run: this one not listed yet", []string{otherExecution}, infra.JobSkippedState},
		{"this run, then the other", []string{selfExecution, otherExecution}, infra.JobSkippedState},
		{"the other run, then this one", []string{otherExecution, selfExecution}, infra.JobSkippedState},
		{"two other runs", []string{otherExecution, thirdExecution}, infra.JobSkippedState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			executions := []any{}
			for _, arn := range tc.listed {
				executions = append(executions, execution(arn))
			}
			out := e.result(guard, map[string]any{}, map[string]any{"Executions": executions})
			if got := e.choose(stateOf(t, states, guard["Next"].(string)), out); got != tc.want {
				t.Errorf("guard output %v goes to %q, want %q", out["guard"], got, tc.want)
			}
		})
	}
}

// TestJobGuardAsksForTwoRunningExecutions: two answer the question (see jobGuardPage) and the page
// stays one call. ListExecutions' statusFilter RUNNING lists only runs still going.
func TestJobGuardAsksForTwoRunningExecutions(t *testing.T) {
	raw, def := rawDefinition(t, nightlyCleanup)
	guard := stateOf(t, def["States"].(map[string]any), infra.JobGuardState)
	params := guard["Parameters"].(map[string]any)
	if params["MaxResults"] != 2.0 || params["StatusFilter"] != "RUNNING" || params["StateMachineArn.$"] != "$$.StateMachine.Id" {
		t.Errorf("guard lists %v, want this machine's RUNNING executions, two at most", params)
	}
	// Written as AWS reads it: no JSON escapes inside the expressions.
	for _, want := range []string{
		`"States.ArrayLength($.Executions)"`,
		`"States.ArrayContains($.Executions[*].ExecutionArn, $$.Execution.Id)"`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("raw definition lacks %s", want)
		}
	}
}

// edges are a definition's transitions: from state to the states its Next, Default, Choices and
// Catch name, each scope (the top level, a Map's ItemProcessor) on its own.
type edge struct{ from, to, via string }

func transitions(t *testing.T, states map[string]any) []edge {
	t.Helper()
	var out []edge
	for name, s := range states {
		st := s.(map[string]any)
		if next, ok := st["Next"].(string); ok {
			out = append(out, edge{name, next, "Next"})
		}
		if def, ok := st["Default"].(string); ok {
			out = append(out, edge{name, def, "Default"})
		}
		for _, c := range asList(st["Choices"]) {
			out = append(out, edge{name, c.(map[string]any)["Next"].(string), "Choice"})
		}
		for _, c := range asList(st["Catch"]) {
			out = append(out, edge{name, c.(map[string]any)["Next"].(string), "Catch"})
		}
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

// checkScope: StartAt and every transition name a state of the same scope, every state is reached
// from StartAt, and each state ends as its type requires: a Task or Map goes Next or ends, a Choice
// has a Default, a Fail goes nowhere (Amazon States Language, "Transitions" and the state types).
func checkScope(t *testing.T, where string, scope map[string]any) {
	t.Helper()
	states := scope["States"].(map[string]any)
	start := scope["StartAt"].(string)
	if states[start] == nil {
		t.Errorf("%s: StartAt %q is no state", where, start)
	}
	reached := map[string]bool{start: true}
	edges := transitions(t, states)
	for _, e := range edges {
		if states[e.to] == nil {
			t.Errorf("%s: %q %s goes to %q, which is no state", where, e.from, e.via, e.to)
		}
	}
	for grew := true; grew; {
		grew = false
		for _, e := range edges {
			if reached[e.from] && !reached[e.to] {
				reached[e.to], grew = true, true
			}
		}
	}
	for name, s := range states {
		st := s.(map[string]any)
		if !reached[name] {
			t.Errorf("%s: state %q is never reached", where, name)
		}
		_, next := st["Next"]
		end, _ := st["End"].(bool)
		switch st["Type"] {
		case "Task", "Pass":
			if next == end {
				t.Errorf("%s: %q must either go Next or End (Next %v, End %v)", where, name, next, end)
			}
		case "Map":
			if next == end {
				t.Errorf("%s: %q must either go Next or End", where, name)
			}
			checkScope(t, where+" > "+name, st["ItemProcessor"].(map[string]any))
		case "Choice":
			if st["Default"] == nil || next || end {
				t.Errorf("%s: Choice %q needs a Default and no Next or End", where, name)
			}
		case "Fail":
			if next || end || st["Catch"] != nil {
				t.Errorf("%s: Fail %q goes somewhere", where, name)
			}
		default:
			t.Errorf("%s: %q is a %v, which this check does not know", where, name, st["Type"])
		}
	}
}

// TestJobRunDefinitionIsWhole: whatever the job's retries and timeout, every transition names a
// state, every state is reached, and each state ends as its type requires.
func TestJobRunDefinitionIsWhole(t *testing.T) {
	for _, job := range []config.JobConfig{
		nightlyCleanup,
		{Name: "hourly-report", Command: []string{"node", "dist/jobs/report.js"}},
		{Name: strings.Repeat("j", 32), Command: []string{"true"}, Timeout: 60, Retries: 5},
	} {
		_, def := rawDefinition(t, job)
		checkScope(t, job.Name, def)
	}
}

// TestJobFailureStopsTheRunsTasksThenFails: when the run state fails or times out (its Catch,
// States.ALL, which "matches any known error name", States.Timeout included), the run lists the
// tasks it started and stops each before it ends as JobFailed, keeping its error in $.error. The
// sources: the Step Functions guide ("Discover service integration patterns") promises only that
// "Step Functions will make a best-effort attempt to cancel the task", and only when the execution
// is stopped or a Parallel or Map branch fails; the ECS API reference for ListTasks: startedBy "must
// be the only filter that you use", and "The default status filter is RUNNING"; for StopTask, a
// reason of "Up to 255 characters"; and the Step Functions AWS SDK integrations take PascalCase
// parameters ("Parameters in Step Functions are expressed in PascalCase").
func TestJobFailureStopsTheRunsTasksThenFails(t *testing.T) {
	long := config.JobConfig{Name: strings.Repeat("n", 32), Command: []string{"true"}, Timeout: 60, Retries: 1}
	for _, job := range []config.JobConfig{nightlyCleanup, long} {
		_, def := rawDefinition(t, job)
		states := def["States"].(map[string]any)
		run := stateOf(t, states, infra.JobRunState)
		catch := asList(run["Catch"])
		if len(catch) != 1 || fmt.Sprint(catch[0].(map[string]any)["ErrorEquals"]) != "[States.ALL]" ||
			catch[0].(map[string]any)["ResultPath"] != "$.error" || catch[0].(map[string]any)["Next"] != infra.JobFindTasksState {
			t.Fatalf("%s: the run's catch %v does not take every failure, timeout included, to the cleanup", job.Name, catch)
		}

		find := stateOf(t, states, infra.JobFindTasksState)
		runParams, findParams := run["Parameters"].(map[string]any), find["Parameters"].(map[string]any)
		if find["Resource"] != "arn:aws:states:::aws-sdk:ecs:listTasks" || len(findParams) != 2 ||
			findParams["Cluster"] != runParams["Cluster"] || findParams["StartedBy"] != runParams["StartedBy"] ||
			findParams["StartedBy"] != "job-"+job.Name || len(findParams["StartedBy"].(string)) > 36 {
			t.Errorf("%s: the cleanup lists %v, want exactly the run's Cluster and StartedBy %v", job.Name, findParams, runParams["StartedBy"])
		}
		stop := stateOf(t, states, find["Next"].(string))
		if find["Next"] != infra.JobStopTasksState || stop["Type"] != "Map" || stop["Next"] != infra.JobFailedState {
			t.Errorf("%s: after listing, %v, want the Map that stops them and then %q", job.Name, find["Next"], infra.JobFailedState)
		}
		processor := stop["ItemProcessor"].(map[string]any)
		stopOne := stateOf(t, processor["States"].(map[string]any), processor["StartAt"].(string))
		stopParams := stopOne["Parameters"].(map[string]any)
		if stopOne["Resource"] != "arn:aws:states:::aws-sdk:ecs:stopTask" || stopParams["Cluster"] != runParams["Cluster"] || stopOne["End"] != true {
			t.Errorf("%s: each task is stopped by %v with %v, want StopTask in the run's cluster", job.Name, stopOne["Resource"], stopParams)
		}
		for _, st := range []map[string]any{find, stopOne} {
			if len(asList(st["Retry"])) == 0 {
				t.Errorf("%s: a cleanup call is not retried: %v", job.Name, st["Resource"])
			}
		}
		for name, st := range map[string]map[string]any{infra.JobFindTasksState: find, infra.JobStopTasksState: stop} {
			c := asList(st["Catch"])
			if len(c) != 1 || c[0].(map[string]any)["Next"] != infra.JobFailedState || c[0].(map[string]any)["ResultPath"] == "$.error" {
				t.Errorf("%s: %q catches %v, want every failure to end as %s with $.error kept", job.Name, name, c, infra.ErrJobFailed)
			}
		}
		if failed := stateOf(t, states, infra.JobFailedState); failed["Type"] != "Fail" || failed["Error"] != infra.ErrJobFailed {
			t.Errorf("%s: %q is %v, want the JobFailed end", job.Name, infra.JobFailedState, failed)
		}

		// The data through the cleanup, as Step Functions passes it: the run's error, one task left
		// running, an execution name of 80 characters (StartExecution's longest).
		e := aslEval{t: t, context: map[string]any{"Execution": map[string]any{"Id": selfExecution, "Name": strings.Repeat("x", 80)}}}
		left := "arn:aws:ecs:us-east-1:123456789012:task/cluster-1/0123456789abcdef0123456789abcdef"
		input := map[string]any{"error": map[string]any{"Error": "States.Timeout", "Cause": "the state timed out"}}
		input = e.result(find, input, map[string]any{"TaskArns": []any{left}})
		items, ok := e.path(stop["ItemsPath"].(string), input)
		if !ok || !reflect.DeepEqual(items, []any{left}) {
			t.Fatalf("%s: the Map iterates over %v, want the listed task", job.Name, items)
		}
		e.context["Map"] = map[string]any{"Item": map[string]any{"Index": 0.0, "Value": left}}
		call := e.template(stopParams, e.template(stop["ItemSelector"].(map[string]any), input))
		reason, _ := call["Reason"].(string)
		if call["Task"] != left || call["Cluster"] != clusterArn || !strings.Contains(reason, job.Name) ||
			!strings.Contains(reason, strings.Repeat("x", 80)) || len(reason) > 255 {
			t.Errorf("%s: StopTask gets %v, want the task, the cluster and a reason naming the job and the run, 255 characters at most", job.Name, call)
		}
		if out := e.result(stop, input, []any{map[string]any{"Task": map[string]any{}}}); !reflect.DeepEqual(out["error"], input["error"]) {
			t.Errorf("%s: the run's error does not reach %q: %v", job.Name, infra.JobFailedState, out)
		}
	}
}

// TestSkippedRunNeverStopsTasks: the skip path ends at once; only the run state's Catch leads into
// the cleanup. Stopping by StartedBy from a skipped run would stop the run still going.
func TestSkippedRunNeverStopsTasks(t *testing.T) {
	_, def := rawDefinition(t, nightlyCleanup)
	states := def["States"].(map[string]any)
	choice := stateOf(t, states, infra.JobChoiceState)
	skip := asList(choice["Choices"])[0].(map[string]any)["Next"].(string)
	if skipped := stateOf(t, states, skip); skip != infra.JobSkippedState || skipped["Type"] != "Fail" || skipped["Error"] != infra.ErrJobAlreadyRunning {
		t.Errorf("the skip goes to %q (%v), want the %s end", skip, skipped, infra.ErrJobAlreadyRunning)
	}
	for _, e := range transitions(t, states) {
		if e.to == infra.JobFindTasksState && (e.from != infra.JobRunState || e.via != "Catch") {
			t.Errorf("%q leads into the cleanup by %s; only the run state's Catch may", e.from, e.via)
		}
	}
}

// TestJobRunMayListTasksOnlyInItsCluster: ecs:ListTasks takes the ecs:cluster condition key (Service
// Authorization Reference, Amazon ECS); the ECS developer guide's policy that "allows a user to list
// tasks for a specified cluster" is ArnEquals on ecs:cluster with Resource "*".
func TestJobRunMayListTasksOnlyInItsCluster(t *testing.T) {
	m := buildJobs(t, map[string]string{"jobs": twoJobs})
	g := grants(t, named(t, m, "aws:iam/rolePolicy:RolePolicy", "jobs-nightly-cleanup-run-policy"))
	list := g["ecs:ListTasks"]
	if strings.Join(list.Resource, ",") != "*" || len(list.Condition) != 1 || len(list.Condition["ArnEquals"]) != 1 ||
		list.Condition["ArnEquals"]["ecs:cluster"] != clusterArn {
		t.Errorf("ecs:ListTasks on %v when %v, want only in the cluster %s", list.Resource, list.Condition, clusterArn)
	}
	if stop := g["ecs:StopTask"]; strings.Join(stop.Resource, ",") != "arn:aws:ecs:us-east-1:123456789012:task/cluster-1/*" ||
		stop.Condition["ArnEquals"]["ecs:cluster"] != clusterArn {
		t.Errorf("ecs:StopTask on %v when %v, want the cluster's tasks only", stop.Resource, stop.Condition)
	}
}
