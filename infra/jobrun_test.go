package infra_test

import (
	"encoding/json"
	"errors"
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
// JSONPath applying to the Context Object") of .field and [index] steps; Payload Templates (fields
// ending ".$"), with the intrinsic States.Format ("Intrinsic Function arguments may be strings
// enclosed by apostrophe (') characters, numbers, null, Paths, or nested Intrinsic Functions");
// ResultSelector and ResultPath; Pass, Task, Choice, inline Map and Fail states, and Catch; and
// Choice rules with IsPresent, StringEqualsPath, And, Or and Not. Anything else fails the test, so
// that it never agrees with a construct it does not know.
//
// Where Step Functions fails the execution with States.Runtime, which no Retry or Catch handles
// ("Error handling in Step Functions": States.ALL "can't catch the States.DataLimitExceeded terminal
// error or Runtime error types"), the evaluator returns a runtimeError: a Payload Template, ItemsPath
// or Choice comparison whose Path matches nothing (a missing Parameters path ends an execution
// "States.Runtime ... could not be found in the input", aws-samples/serverless-coffee-workshop#15;
// the Choice state guide: "If the state input doesn't contain the $.type field, the execution
// fails"). Only IsPresent reads a Path that matches nothing without failing.
type aslEval struct {
	t       *testing.T
	context map[string]any
}

// runtimeError is a States.Runtime failure: the execution ends FAILED whatever its Catch says.
type runtimeError struct{ cause string }

func (r runtimeError) Error() string { return "States.Runtime: " + r.cause }

func runtimeErr(format string, args ...any) error {
	return runtimeError{fmt.Sprintf(format, args...)}
}

// path applies a Reference Path of .field and [index] steps ("$.ledgers.branch[0].pending.count"
// is one of the specification's examples). ok is false when it matches nothing: a field that is
// not there, an index past the end, or a step into something that is not an object or array.
func (e aslEval) path(p string, input any) (v any, ok bool) {
	e.t.Helper()
	doc := input
	if strings.HasPrefix(p, "$$") {
		doc, p = any(e.context), p[1:]
	}
	if !strings.HasPrefix(p, "$") {
		e.t.Fatalf("%q is not a Path", p)
	}
	for rest := p[1:]; rest != ""; {
		switch rest[0] {
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				e.t.Fatalf("path %q: unclosed [", p)
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil || i < 0 {
				e.t.Fatalf("path %q: the evaluator knows only .field and [index]", p)
			}
			arr, isArr := doc.([]any)
			if !isArr || i >= len(arr) {
				return nil, false
			}
			doc, rest = arr[i], rest[end+1:]
		case '.':
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			obj, isObj := doc.(map[string]any)
			if !isObj {
				return nil, false
			}
			if doc, ok = obj[rest[1:end+1]]; !ok {
				return nil, false
			}
			rest = rest[end+1:]
		default:
			e.t.Fatalf("path %q: the evaluator knows only .field and [index]", p)
		}
	}
	return doc, true
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

func (e aslEval) arg(a string, input any) (any, error) {
	e.t.Helper()
	switch {
	case strings.HasPrefix(a, "$"):
		v, ok := e.path(a, input)
		if !ok {
			return nil, runtimeErr("intrinsic argument %s matches nothing", a)
		}
		return v, nil
	case strings.HasPrefix(a, "'") && strings.HasSuffix(a, "'"):
		s := a[1 : len(a)-1]
		for _, esc := range []string{`'`, `{`, `}`} {
			s = strings.ReplaceAll(s, `\`+esc, esc)
		}
		if strings.Contains(s, `\`) {
			e.t.Fatalf("string argument %s: an escape the evaluator does not know", a)
		}
		return s, nil
	case strings.HasPrefix(a, "States."):
		return e.intrinsic(a, input)
	}
	n, err := strconv.ParseFloat(a, 64)
	if err != nil {
		e.t.Fatalf("intrinsic argument %q is no string, number, Path or intrinsic", a)
	}
	return n, nil
}

func (e aslEval) intrinsic(call string, input any) (any, error) {
	e.t.Helper()
	open := strings.Index(call, "(")
	if open < 0 || !strings.HasSuffix(call, ")") {
		e.t.Fatalf("%q is not an intrinsic call", call)
	}
	var args []any
	for _, a := range splitArgs(call[open+1 : len(call)-1]) {
		v, err := e.arg(a, input)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	if name := call[:open]; name != "States.Format" {
		e.t.Fatalf("intrinsic %s: the evaluator does not know it", name)
	}
	tmpl, ok := args[0].(string)
	if !ok || strings.Count(tmpl, "{}") != len(args)-1 {
		e.t.Fatalf("%s: the template's {} do not match the arguments", call)
	}
	for _, a := range args[1:] {
		tmpl = strings.Replace(tmpl, "{}", fmt.Sprint(a), 1)
	}
	return tmpl, nil
}

// template processes a Payload Template: a field ending ".$" takes the value of its Path or
// intrinsic, under its name without the suffix.
func (e aslEval) template(tmpl map[string]any, input any) (map[string]any, error) {
	e.t.Helper()
	out := map[string]any{}
	for k, v := range tmpl {
		name, dynamic := strings.CutSuffix(k, ".$")
		switch {
		case !dynamic:
			if m, ok := v.(map[string]any); ok {
				var err error
				if v, err = e.template(m, input); err != nil {
					return nil, err
				}
			}
			out[name] = v
		case strings.HasPrefix(v.(string), "$"):
			got, ok := e.path(v.(string), input)
			if !ok {
				return nil, runtimeErr("%s: %s matches nothing", k, v)
			}
			out[name] = got
		default:
			got, err := e.intrinsic(v.(string), input)
			if err != nil {
				return nil, err
			}
			out[name] = got
		}
	}
	return out, nil
}

// place puts value into input as a ResultPath says: "$.field", null to keep the input as it is,
// or no ResultPath at all, "$", for the value to be the output.
func (e aslEval) place(rp any, present bool, input map[string]any, value any) map[string]any {
	e.t.Helper()
	switch {
	case present && rp == nil:
		return input
	case !present:
		out, ok := value.(map[string]any)
		if !ok {
			e.t.Fatalf("a result %v that is no object replaces the state's input", value)
		}
		return out
	}
	field, ok := strings.CutPrefix(fmt.Sprint(rp), "$.")
	if !ok || strings.ContainsAny(field, ".[") {
		e.t.Fatalf("ResultPath %v: the evaluator knows only null and $.field", rp)
	}
	out := map[string]any{field: value}
	for k, v := range input {
		if k != field {
			out[k] = v
		}
	}
	return out
}

// result is a Pass, Task or Map state's output: ResultSelector applied to the result, placed in
// the input by ResultPath.
func (e aslEval) result(st map[string]any, input map[string]any, result any) (map[string]any, error) {
	e.t.Helper()
	if sel, ok := st["ResultSelector"].(map[string]any); ok {
		var err error
		if result, err = e.template(sel, result); err != nil {
			return nil, err
		}
	}
	rp, present := st["ResultPath"]
	return e.place(rp, present, input, result), nil
}

// rule evaluates one Choice rule. And and Or evaluate their rules in order, "ceasing array
// processing when the boolean value has been unambiguously determined" (specification, Boolean
// expression), so a rule after a false one in an And is never evaluated.
func (e aslEval) rule(r map[string]any, input any) (bool, error) {
	e.t.Helper()
	if and, ok := r["And"].([]any); ok {
		for _, sub := range and {
			if holds, err := e.rule(sub.(map[string]any), input); err != nil || !holds {
				return false, err
			}
		}
		return true, nil
	}
	if or, ok := r["Or"].([]any); ok {
		for _, sub := range or {
			if holds, err := e.rule(sub.(map[string]any), input); err != nil || holds {
				return holds, err
			}
		}
		return false, nil
	}
	if not, ok := r["Not"].(map[string]any); ok {
		holds, err := e.rule(not, input)
		return !holds, err
	}
	variable, _ := r["Variable"].(string)
	var ops []string
	for op := range r {
		if op != "Variable" && op != "Next" {
			ops = append(ops, op)
		}
	}
	if variable == "" || len(ops) != 1 {
		e.t.Fatalf("Choice rule %v: want a Variable and one test, got %v", r, ops)
	}
	v, present := e.path(variable, input)
	switch op, want := ops[0], r[ops[0]]; op {
	case "IsPresent":
		return present == want.(bool), nil
	case "StringEqualsPath":
		other, otherPresent := e.path(want.(string), input)
		if !present || !otherPresent {
			return false, runtimeErr("Choice rule compares %s with %s, and one matches nothing", variable, want)
		}
		// "if the values are not both of the appropriate type ... the comparison will return false"
		a, aStr := v.(string)
		b, bStr := other.(string)
		return aStr && bStr && a == b, nil
	default:
		e.t.Fatalf("Choice operator %s: the evaluator does not know it", op)
		return false, nil
	}
}

// choose is the state a Choice state goes to.
func (e aslEval) choose(st map[string]any, input any) (string, error) {
	e.t.Helper()
	for _, c := range st["Choices"].([]any) {
		r := c.(map[string]any)
		holds, err := e.rule(r, input)
		if err != nil {
			return "", err
		}
		if holds {
			return r["Next"].(string), nil
		}
	}
	return st["Default"].(string), nil
}

// taskError is the error a Task's call or a Map's iteration fails with, as a Catch sees it.
type taskError struct{ Error, Cause string }

// service answers a Task state's call with its result or the error it fails with.
type service func(resource string, params map[string]any) (any, *taskError)

// aslRun is what an execution did: the states it entered, in order; the input of the state it
// stopped at (a Fail state, or one it was asked to stop at) or the output of its last state; and
// the error it ended with when no Catch took it.
type aslRun struct {
	trace  []string
	data   map[string]any
	failed *taskError
}

func (r aslRun) last() string { return r.trace[len(r.trace)-1] }

// catch is where a state's Catch takes err: the first catcher whose ErrorEquals names it or is
// States.ALL, with the error output {"Error", "Cause"} placed by the catcher's ResultPath. A Retry
// only repeats the call, so the walk goes straight to what follows the last attempt.
func (e aslEval) catch(st, input map[string]any, err *taskError) (string, map[string]any, bool) {
	e.t.Helper()
	for _, c := range asList(st["Catch"]) {
		catcher := c.(map[string]any)
		for _, name := range asList(catcher["ErrorEquals"]) {
			if name == err.Error || name == "States.ALL" {
				rp, present := catcher["ResultPath"]
				errorOutput := map[string]any{"Error": err.Error, "Cause": err.Cause}
				return catcher["Next"].(string), e.place(rp, present, input, errorOutput), true
			}
		}
	}
	return "", nil, false
}

// walk runs a scope's states from start as Step Functions would, calling call for each Task, until
// it reaches a Fail state, a state named in stopAt (not entered), or a state with End. A
// runtimeError is returned as the error; a failure no Catch takes ends the run with failed set.
func (e aslEval) walk(states map[string]any, start string, input map[string]any, call service, stopAt ...string) (aslRun, error) {
	e.t.Helper()
	var r aslRun
	for name := start; len(r.trace) < 50; {
		r.trace = append(r.trace, name)
		st := stateOf(e.t, states, name)
		if slices.Contains(stopAt, name) || st["Type"] == "Fail" {
			r.data = input
			return r, nil
		}
		var failure *taskError
		var output map[string]any
		var err error
		switch st["Type"] {
		case "Pass":
			var effective map[string]any
			if effective, err = e.template(st["Parameters"].(map[string]any), input); err == nil {
				output, err = e.result(st, input, effective)
			}
		case "Choice":
			if name, err = e.choose(st, input); err != nil {
				return r, err
			}
			continue
		case "Task":
			var params map[string]any
			if params, err = e.template(st["Parameters"].(map[string]any), input); err != nil {
				return r, err
			}
			var res any
			if res, failure = call(st["Resource"].(string), params); failure == nil {
				output, err = e.result(st, input, res)
			}
		case "Map":
			output, failure, err = e.mapState(st, input, call)
		default:
			e.t.Fatalf("state %q is a %v, which the evaluator does not run", name, st["Type"])
		}
		if err != nil {
			return r, err
		}
		if failure != nil {
			next, caught, ok := e.catch(st, input, failure)
			if !ok {
				r.data, r.failed = input, failure
				return r, nil
			}
			name, input = next, caught
			continue
		}
		if end, _ := st["End"].(bool); end {
			r.data = output
			return r, nil
		}
		name, input = st["Next"].(string), output
	}
	e.t.Fatalf("no end after %v", r.trace)
	return r, nil
}

// mapState runs an inline Map: ItemsPath must select an array; each item's input is the
// ItemSelector with $$.Map.Item set, run through the ItemProcessor; an iteration that fails fails
// the Map with its error.
func (e aslEval) mapState(st, input map[string]any, call service) (map[string]any, *taskError, error) {
	e.t.Helper()
	items, ok := e.path(st["ItemsPath"].(string), input)
	list, isList := items.([]any)
	if !ok || !isList {
		return nil, nil, runtimeErr("ItemsPath %s selects %v, not an array", st["ItemsPath"], items)
	}
	processor := st["ItemProcessor"].(map[string]any)
	defer delete(e.context, "Map")
	var results []any
	for i, item := range list {
		e.context["Map"] = map[string]any{"Item": map[string]any{"Index": float64(i), "Value": item}}
		itemInput, err := e.template(st["ItemSelector"].(map[string]any), input)
		if err != nil {
			return nil, nil, err
		}
		it, err := e.walk(processor["States"].(map[string]any), processor["StartAt"].(string), itemInput, call)
		if err != nil || it.failed != nil {
			return nil, it.failed, err
		}
		results = append(results, it.data)
	}
	output, err := e.result(st, input, results)
	return output, nil, err
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

const (
	listExecutions = "arn:aws:states:::aws-sdk:sfn:listExecutions"
	runTaskSync    = "arn:aws:states:::ecs:runTask.sync"
	listTasks      = "arn:aws:states:::aws-sdk:ecs:listTasks"
	stopTask       = "arn:aws:states:::aws-sdk:ecs:stopTask"
	testMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:jobs-nightly-cleanup-abc"
)

// runContext is the context object of this run, as "Accessing execution data from the Context
// object" lays it out: Execution.Id is the execution's ARN.
func runContext(name string) map[string]any {
	return map[string]any{
		"Execution":    map[string]any{"Id": selfExecution, "Name": name},
		"StateMachine": map[string]any{"Id": testMachineArn},
	}
}

// answer is an API result with its list under key, or without the key when listed is nil: AWS
// does not say whether an SDK integration sends an empty list as [] or leaves it out, so the
// tests try both.
func answer(key string, listed []any) map[string]any {
	if listed == nil {
		return map[string]any{}
	}
	return map[string]any{key: listed}
}

// TestJobGuardSkipsOnlyWhenAnotherRunIsListed runs the run's first states, as written, on
// ListExecutions answers. The Step Functions API reference for ListExecutions: "Results are sorted
// by time, with the most recent execution first ... This operation is eventually consistent. The
// results are best effort and may not reflect very recent updates and changes." The guard runs
// just after its own StartExecution, so the list may lack this run: a list holding only another
// RUNNING run must skip, and this run alone, or nothing, must run, whether nothing comes back as
// "Executions": [] or with no Executions at all (either must not end the run with States.Runtime).
func TestJobGuardSkipsOnlyWhenAnotherRunIsListed(t *testing.T) {
	_, def := rawDefinition(t, nightlyCleanup)
	states := def["States"].(map[string]any)
	for _, tc := range []struct {
		name   string
		listed []string // nil: no Executions key
		want   string
	}{
		{"nothing listed yet, no Executions", nil, infra.JobRunState},
		{"nothing listed yet, empty Executions", []string{}, infra.JobRunState},
		{"only this run", []string{selfExecution}, infra.JobRunState},
		{"only another run: this one not listed yet", []string{otherExecution}, infra.JobSkippedState},
		{"this run, then the other", []string{selfExecution, otherExecution}, infra.JobSkippedState},
		{"the other run, then this one", []string{otherExecution, selfExecution}, infra.JobSkippedState},
		{"two other runs", []string{otherExecution, thirdExecution}, infra.JobSkippedState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := aslEval{t: t, context: runContext("self-run")}
			var executions []any
			if tc.listed != nil {
				executions = []any{}
			}
			for _, arn := range tc.listed {
				executions = append(executions, execution(arn))
			}
			var calls []map[string]any
			call := func(resource string, params map[string]any) (any, *taskError) {
				if resource != listExecutions {
					t.Fatalf("the guard calls %s", resource)
				}
				calls = append(calls, params)
				return answer("Executions", executions), nil
			}
			// Scheduler starts each run with the input {}.
			run, err := e.walk(states, def["StartAt"].(string), map[string]any{}, call, infra.JobRunState)
			if err != nil {
				t.Fatalf("the run ends with %v after %q", err, run.trace)
			}
			want := []string{infra.JobNoteRunState, infra.JobGuardState, infra.JobChoiceState, tc.want}
			if !slices.Equal(run.trace, want) {
				t.Errorf("the run goes %q, want %q", run.trace, want)
			}
			if len(calls) != 1 || calls[0]["StateMachineArn"] != testMachineArn {
				t.Errorf("the guard lists %v, want this state machine's executions once", calls)
			}
		})
	}
}

// TestJobGuardAsksForTwoRunningExecutions: two answer the question (see jobGuardPage) and the page
// stays one call. ListExecutions' statusFilter RUNNING lists only runs still going. The answer is
// kept whole, with no ResultSelector that would read a list that may not be there.
func TestJobGuardAsksForTwoRunningExecutions(t *testing.T) {
	raw, def := rawDefinition(t, nightlyCleanup)
	states := def["States"].(map[string]any)
	guard := stateOf(t, states, infra.JobGuardState)
	params := guard["Parameters"].(map[string]any)
	if params["MaxResults"] != 2.0 || params["StatusFilter"] != "RUNNING" || params["StateMachineArn.$"] != "$$.StateMachine.Id" {
		t.Errorf("guard lists %v, want this machine's RUNNING executions, two at most", params)
	}
	if _, ok := guard["ResultSelector"]; ok || guard["ResultPath"] != "$.guard" {
		t.Errorf("guard keeps %v at %v, want ListExecutions' answer whole at $.guard", guard["ResultSelector"], guard["ResultPath"])
	}
	note := stateOf(t, states, infra.JobNoteRunState)
	if def["StartAt"] != infra.JobNoteRunState || note["Type"] != "Pass" || note["Next"] != infra.JobGuardState {
		t.Errorf("the run starts at %v (%v), want the Pass state that notes its id, then the guard", def["StartAt"], note)
	}
	// Written as AWS reads it: no JSON escapes inside the paths.
	for _, want := range []string{
		`"self.$":"$$.Execution.Id"`,
		`"Variable":"$.guard.Executions[0].ExecutionArn"`,
		`"Variable":"$.guard.Executions[1].ExecutionArn"`,
		`"StringEqualsPath":"$.run.self"`,
		`"Variable":"$.leftover.TaskArns[0]"`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("raw definition lacks %s", want)
		}
	}
}

// TestASLEvalFailsWhereStepFunctionsFails: the evaluator the tests above rely on fails a run where
// Step Functions ends it with States.Runtime, and only there. IsPresent on a path that matches
// nothing, an index past the end or into a list that is not there included, is false and fails
// nothing (specification, IsPresent: "no exception is thrown and the Choice Rule just returns
// false"); AWS's Choice state guide shows the guard this relies on, an And whose IsPresent comes
// before a comparison of the same Variable ("$.keyThatMightNotExist"). The guard as it was before,
// a ResultSelector of States.ArrayLength($.Executions), must fail on an answer without Executions.
func TestASLEvalFailsWhereStepFunctionsFails(t *testing.T) {
	e := aslEval{t: t, context: runContext("self-run")}
	input := map[string]any{"run": map[string]any{"self": selfExecution}, "guard": map[string]any{}}
	isPresent := func(p string) map[string]any { return map[string]any{"Variable": p, "IsPresent": true} }
	equalsSelf := func(p string) map[string]any { return map[string]any{"Variable": p, "StringEqualsPath": "$.run.self"} }
	for _, p := range []string{"$.guard.Executions", "$.guard.Executions[0].ExecutionArn", "$.run.self[0]", "$.run.self.x", "$.nothing[3]"} {
		if holds, err := e.rule(isPresent(p), input); holds || err != nil {
			t.Errorf("IsPresent %s on %v: %v, %v; want false, no error", p, input, holds, err)
		}
		if _, err := e.rule(equalsSelf(p), input); !errors.As(err, new(runtimeError)) {
			t.Errorf("StringEqualsPath on %s, which matches nothing: %v, want States.Runtime", p, err)
		}
		guarded := map[string]any{"And": []any{isPresent(p), equalsSelf(p)}}
		if holds, err := e.rule(guarded, input); holds || err != nil {
			t.Errorf("And [IsPresent, StringEqualsPath] on %s: %v, %v; want false, no error", p, holds, err)
		}
	}
	if holds, err := e.rule(map[string]any{"Not": equalsSelf("$.run.self")}, input); holds || err != nil {
		t.Errorf("Not StringEqualsPath of a value and itself: %v, %v", holds, err)
	}
	before := map[string]any{"ResultSelector": map[string]any{"running.$": "$.Executions"}, "ResultPath": "$.guard"}
	if _, err := e.result(before, input, map[string]any{}); !errors.As(err, new(runtimeError)) {
		t.Errorf("a ResultSelector reading a list that is not there: %v, want States.Runtime", err)
	}
	mapState := map[string]any{"ItemsPath": "$.leftover.TaskArns"}
	if _, _, err := e.mapState(mapState, map[string]any{"leftover": map[string]any{}}, nil); !errors.As(err, new(runtimeError)) {
		t.Errorf("a Map over a list that is not there: %v, want States.Runtime", err)
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
//
// Then it runs whole executions whose task fails, through every way the cleanup can go: ListTasks
// answering with no TaskArns, with [] (AWS does not say which an empty answer is), or with two
// tasks; ListTasks failing; StopTask failing. Each ends in the JobFailed state with the run's own
// error still in $.error, and none ends with States.Runtime, which no Catch would take.
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
		if find["Resource"] != listTasks || len(findParams) != 2 ||
			findParams["Cluster"] != runParams["Cluster"] || findParams["StartedBy"] != runParams["StartedBy"] ||
			findParams["StartedBy"] != "job-"+job.Name || len(findParams["StartedBy"].(string)) > 36 {
			t.Errorf("%s: the cleanup lists %v, want exactly the run's Cluster and StartedBy %v", job.Name, findParams, runParams["StartedBy"])
		}
		if _, ok := find["ResultSelector"]; ok || find["ResultPath"] != "$.leftover" {
			t.Errorf("%s: the cleanup keeps %v at %v, want ListTasks' answer whole at $.leftover", job.Name, find["ResultSelector"], find["ResultPath"])
		}
		anyLeft := stateOf(t, states, find["Next"].(string))
		stop := stateOf(t, states, infra.JobStopTasksState)
		if find["Next"] != infra.JobAnyTaskLeftState || anyLeft["Type"] != "Choice" || anyLeft["Default"] != infra.JobFailedState ||
			len(asList(anyLeft["Choices"])) != 1 || asList(anyLeft["Choices"])[0].(map[string]any)["Next"] != infra.JobStopTasksState ||
			stop["Type"] != "Map" || stop["ItemsPath"] != "$.leftover.TaskArns" || stop["Next"] != infra.JobFailedState {
			t.Errorf("%s: after listing, %v, want a Choice between the Map that stops them and %q", job.Name, find["Next"], infra.JobFailedState)
		}
		processor := stop["ItemProcessor"].(map[string]any)
		stopOne := stateOf(t, processor["States"].(map[string]any), processor["StartAt"].(string))
		stopParams := stopOne["Parameters"].(map[string]any)
		if stopOne["Resource"] != stopTask || stopParams["Cluster"] != runParams["Cluster"] || stopOne["End"] != true {
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

		left := []any{
			"arn:aws:ecs:us-east-1:123456789012:task/cluster-1/0123456789abcdef0123456789abcdef",
			"arn:aws:ecs:us-east-1:123456789012:task/cluster-1/fedcba9876543210fedcba9876543210",
		}
		upToCleanup := []string{infra.JobNoteRunState, infra.JobGuardState, infra.JobChoiceState, infra.JobRunState, infra.JobFindTasksState}
		for _, tc := range []struct {
			name        string
			taskArns    []any // nil: no TaskArns key
			listFails   bool
			stopFails   bool
			wantTrace   []string
			wantStopped []any
		}{
			{name: "no TaskArns", wantTrace: []string{infra.JobAnyTaskLeftState, infra.JobFailedState}},
			{name: "empty TaskArns", taskArns: []any{}, wantTrace: []string{infra.JobAnyTaskLeftState, infra.JobFailedState}},
			{name: "two tasks left", taskArns: left, wantTrace: []string{infra.JobAnyTaskLeftState, infra.JobStopTasksState, infra.JobFailedState}, wantStopped: left},
			{name: "ListTasks fails", listFails: true, wantTrace: []string{infra.JobFailedState}},
			{name: "StopTask fails", taskArns: left, stopFails: true, wantTrace: []string{infra.JobAnyTaskLeftState, infra.JobStopTasksState, infra.JobFailedState}, wantStopped: left},
		} {
			t.Run(job.Name+"/"+tc.name, func(t *testing.T) {
				// An execution name of 80 characters, StartExecution's longest.
				e := aslEval{t: t, context: runContext(strings.Repeat("x", 80))}
				runError := &taskError{Error: "States.Timeout", Cause: "the state timed out"}
				var stopped []any
				call := func(resource string, params map[string]any) (any, *taskError) {
					switch resource {
					case listExecutions:
						return answer("Executions", []any{execution(selfExecution)}), nil
					case runTaskSync:
						return nil, runError
					case listTasks:
						if tc.listFails {
							return nil, &taskError{Error: "ECS.AmazonECSException", Cause: "throttled"}
						}
						return answer("TaskArns", tc.taskArns), nil
					case stopTask:
						reason, _ := params["Reason"].(string)
						if params["Cluster"] != clusterArn || !strings.Contains(reason, job.Name) ||
							!strings.Contains(reason, strings.Repeat("x", 80)) || len(reason) > 255 {
							t.Errorf("StopTask gets %v, want the cluster and a reason naming the job and the run, 255 characters at most", params)
						}
						stopped = append(stopped, params["Task"])
						if tc.stopFails && params["Task"] == left[len(left)-1] {
							return nil, &taskError{Error: "ECS.ServerException", Cause: "try again"}
						}
						return map[string]any{"Task": map[string]any{"TaskArn": params["Task"]}}, nil
					}
					t.Fatalf("the run calls %s", resource)
					return nil, nil
				}
				run, err := e.walk(states, def["StartAt"].(string), map[string]any{}, call)
				if err != nil {
					t.Fatalf("the run ends with %v after %q", err, run.trace)
				}
				if want := append(slices.Clone(upToCleanup), tc.wantTrace...); !slices.Equal(run.trace, want) || run.failed != nil {
					t.Errorf("the run goes %q (uncaught: %v), want %q", run.trace, run.failed, want)
				}
				if !reflect.DeepEqual(stopped, tc.wantStopped) {
					t.Errorf("StopTask on %v, want %v", stopped, tc.wantStopped)
				}
				want := map[string]any{"Error": runError.Error, "Cause": runError.Cause}
				if !reflect.DeepEqual(run.data["error"], want) {
					t.Errorf("%q gets $.error %v, want the run's %v", run.last(), run.data["error"], want)
				}
			})
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
