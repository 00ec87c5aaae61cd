// Package workflows checks the GitHub Actions workflows for mistakes that actionlint accepts but that
// fail, or quietly do the wrong thing, when the workflows run. Each check names the review finding it
// guards and the source that says how GitHub, the actions or Pulumi behave.
package workflows

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Workflow is the part of a workflow file the checks read.
type Workflow struct {
	File string          `yaml:"-"`
	On   yaml.Node       `yaml:"on"`
	Jobs map[string]*Job `yaml:"jobs"`
}

type Job struct {
	Name  string  `yaml:"name"`
	Needs Strings `yaml:"needs"`
	If    string  `yaml:"if"`
	Steps []Step  `yaml:"steps"`
}

type Step struct {
	ID              string         `yaml:"id"`
	Name            string         `yaml:"name"`
	If              string         `yaml:"if"`
	ContinueOnError any            `yaml:"continue-on-error"`
	Uses            string         `yaml:"uses"`
	Run             string         `yaml:"run"`
	With            map[string]any `yaml:"with"`
}

// Strings is a key GitHub accepts as one string or a list of them (`needs`).
type Strings []string

func (s *Strings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = Strings{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*s = list
	return nil
}

// Parse reads one workflow file's content; file names it in findings.
func Parse(file string, content []byte) (*Workflow, error) {
	var w Workflow
	if err := yaml.Unmarshal(content, &w); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(w.Jobs) == 0 {
		return nil, fmt.Errorf("%s: no jobs", file)
	}
	w.File = file
	return &w, nil
}

// Finding is one broken rule in one job.
type Finding struct {
	File, Job, Rule, Message string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: job %s: %s: %s", f.File, f.Job, f.Rule, f.Message)
}

// Check runs every rule on w.
func Check(w *Workflow) []Finding {
	var all []Finding
	for _, rule := range []func(*Workflow) []Finding{
		CheckPushCredentials,
		CheckSessionDuration,
		CheckDependabotPreview,
		CheckPrebuiltProgram,
		CheckRunningRecord,
	} {
		all = append(all, rule(w)...)
	}
	return all
}

// The rules' names, as findings carry them.
const (
	RulePushCredentials   = "C1 push credentials"
	RuleSessionDuration   = "C5 session duration"
	RuleDependabotPreview = "C6 Dependabot preview"
	RulePrebuiltProgram   = "prebuilt program"
	RuleRunningRecord     = "D5 running record"
)

// MinSessionSeconds is the shortest AWS session a job that runs `pulumi up` may ask for.
const MinSessionSeconds = 7200

// Artifact is the name under which the build job hands the compiled program to the jobs that run it.
const Artifact = "program"

// HostBuild is the build job's command for the program: the language host's own `go build` of a
// `buildTarget`, so the binary is the one `pulumi up` would have built and the build cache is shared.
const HostBuild = `go build -buildvcs=false -trimpath -ldflags "-w -s" -o bin/ecs-api .`

// CheckPushCredentials: a job that pushes with a token in the URL must check out without persisting
// the workflow's token. actions/checkout stores GITHUB_TOKEN as an http.extraheader, which "take[s]
// precedence" over credentials in the URL (actions/checkout#162), so the push runs as
// github-actions[bot] with this job's read-only token and is refused (review C, C1). And once the
// checkout keeps no credentials, `origin` has none either: such a job must not read or push `origin`
// (a private repository refuses it).
func CheckPushCredentials(w *Workflow) []Finding {
	var out []Finding
	for _, name := range jobNames(w) {
		job := w.Jobs[name]
		if !job.runs(func(s string) bool { return strings.Contains(s, "x-access-token:") }) {
			continue
		}
		for _, st := range job.Steps {
			if !uses(st, "actions/checkout") {
				continue
			}
			if isFalse(st.With["persist-credentials"]) || st.With["token"] != nil {
				if job.runs(gitOrigin.MatchString) {
					out = append(out, Finding{w.File, name, RulePushCredentials,
						"the checkout keeps no credentials, yet a script reaches `origin`: use the token URL there too"})
				}
				continue
			}
			out = append(out, Finding{w.File, name, RulePushCredentials,
				"pushes with a token in the URL, but actions/checkout persists the workflow's token, which git sends instead: set persist-credentials: false (or token:)"})
		}
	}
	return out
}

var gitOrigin = regexp.MustCompile(`git\s+(ls-remote|push|fetch|pull)\b[^\n]*\sorigin\b`)

// CheckSessionDuration: OIDC sessions from configure-aws-credentials last one hour unless
// role-duration-seconds says otherwise, and the action's credentials "still won't refresh"
// (aws-actions/configure-aws-credentials#354). A job running `pulumi up` (then verify) asks for at
// least MinSessionSeconds, or a long deploy fails mid-update with ExpiredToken (review C, C5).
func CheckSessionDuration(w *Workflow) []Finding {
	var out []Finding
	for _, name := range jobNames(w) {
		job := w.Jobs[name]
		if !slices.ContainsFunc(job.Steps, func(s Step) bool { return pulumiCommand(s) == "up" }) {
			continue
		}
		for _, st := range job.Steps {
			if !uses(st, "aws-actions/configure-aws-credentials") {
				continue
			}
			got, set := st.With["role-duration-seconds"]
			if seconds, ok := integer(got); !ok || seconds < MinSessionSeconds {
				if !set {
					got = "none"
				}
				out = append(out, Finding{w.File, name, RuleSessionDuration, fmt.Sprintf(
					"runs pulumi up on credentials without role-duration-seconds >= %d (got %v); OIDC sessions default to one hour and are not refreshed",
					MinSessionSeconds, got)})
			}
		}
	}
	return out
}

// CheckDependabotPreview: "For workflows initiated by Dependabot (github.actor == 'dependabot[bot]')
// using the pull_request ... events ... Secrets are populated from Dependabot secrets. GitHub Actions
// secrets are not available", "even if the workflow is re-run by a different actor" (GitHub Docs,
// "Troubleshooting Dependabot on GitHub Actions"). A preview there cannot log in to the backend, so a
// pull-request preview job's `if` must leave Dependabot out (review C, C6).
func CheckDependabotPreview(w *Workflow) []Finding {
	if !w.triggeredBy("pull_request") {
		return nil
	}
	var out []Finding
	for _, name := range jobNames(w) {
		job := w.Jobs[name]
		if !slices.ContainsFunc(job.Steps, func(s Step) bool { return pulumiCommand(s) == "preview" }) {
			continue
		}
		cond := strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(job.If), "${{"), "}}")), " ")
		if !strings.Contains(cond, "github.actor != 'dependabot[bot]'") || strings.Contains(cond, "||") {
			out = append(out, Finding{w.File, name, RuleDependabotPreview, fmt.Sprintf(
				"previews with Actions secrets, which Dependabot's runs do not get: its if must include && github.actor != 'dependabot[bot]' (got %q)", job.If)})
		}
	}
	return out
}

// CheckPrebuiltProgram: a job that runs Pulumi starts from the program the build job compiled, not a
// fresh compile. The Go language host runs a `binary:` as it is and compiles only without one
// (pulumi/pulumi sdk/go/pulumi-language-go/main.go, Run: "the user can explicitly opt in to using a
// binary executable by specifying runtime.options.binary"), so the job downloads the build job's
// artifact, switches Pulumi.yaml to `binary:` before Pulumi runs, and compiles nothing itself. The
// build job it needs compiles with HostBuild.
func CheckPrebuiltProgram(w *Workflow) []Finding {
	var out []Finding
	for _, name := range jobNames(w) {
		job := w.Jobs[name]
		pulumi := slices.IndexFunc(job.Steps, func(s Step) bool { return pulumiCommand(s) != "" })
		if pulumi < 0 {
			continue
		}
		fail := func(format string, args ...any) {
			out = append(out, Finding{w.File, name, RulePrebuiltProgram, fmt.Sprintf(format, args...)})
		}
		download := slices.IndexFunc(job.Steps, func(s Step) bool {
			return uses(s, "actions/download-artifact") && s.With["name"] == Artifact
		})
		if download < 0 || download > pulumi {
			fail("does not download the %q artifact before Pulumi runs", Artifact)
		}
		// The artifact may be gone (expired while prod waited for approval: "the retention on
		// artifacts will be reduced to match the max value allowed on server", actions/toolkit
		// upload-artifact; or refused when the Actions storage quota is used up): the job then
		// compiles the program itself, in a step that runs only then, rather than not deploying.
		fallback := -1
		if download >= 0 {
			d := job.Steps[download]
			if d.ID == "" || !isTrue(d.ContinueOnError) {
				fail("downloads the %q artifact without an id and continue-on-error, so a missing artifact stops the job", Artifact)
			}
			fallback = slices.IndexFunc(job.Steps, func(s Step) bool {
				return d.ID != "" && strings.Contains(s.If, "steps."+d.ID+".outcome") && strings.Contains(s.Run, HostBuild)
			})
			if fallback < 0 || fallback < download || fallback > pulumi {
				fail("has no step that compiles the program with %q when the download fails, before Pulumi runs", HostBuild)
			}
		}
		for i, s := range job.Steps {
			if i != fallback && s.Run != "" && goCompiles.MatchString(s.Run) {
				fail("compiles Go (go run/build/install) instead of running what the build job compiled")
			}
		}
		switchStep := slices.IndexFunc(job.Steps, func(s Step) bool { return IsSwitchToBinary(s.Run) })
		if switchStep < 0 || switchStep > pulumi || switchStep < download {
			fail("does not switch Pulumi.yaml to `binary:` after the download and before Pulumi runs, so the language host compiles the program again")
		}
		built := slices.ContainsFunc(job.Needs, func(n string) bool {
			b := w.Jobs[n]
			return b != nil && b.builds()
		})
		if !built {
			fail("needs no job that compiles the program with %q and uploads it as %q", HostBuild, Artifact)
		}
	}
	return out
}

// CheckRunningRecord: ECR ranks images by push time, so the image a stack is moving to (a rollback
// to an old one) is protected only by its running-<stack> record (aws/containers-roadmap#2746). A
// job that runs `pulumi up` adds that record (`release hold`) before the deploy starts, and moves it
// (`release mark`) only after verifying; otherwise between the two, or for good when verify times out
// while ECS completes the rollout, the stack runs an image the lifecycle policy may expire (review
// D5). A prune step after a deploy that succeeded must not fail the job: re-running it deploys again.
func CheckRunningRecord(w *Workflow) []Finding {
	var out []Finding
	for _, name := range jobNames(w) {
		job := w.Jobs[name]
		up := slices.IndexFunc(job.Steps, func(s Step) bool { return pulumiCommand(s) == "up" })
		if up < 0 {
			continue
		}
		fail := func(format string, args ...any) {
			out = append(out, Finding{w.File, name, RuleRunningRecord, fmt.Sprintf(format, args...)})
		}
		step := func(verb string) int {
			return slices.IndexFunc(job.Steps, func(s Step) bool { return strings.Contains(s.Run, "release "+verb+" ") })
		}
		if hold := step("hold"); hold < 0 || hold > up {
			fail("does not run `release hold` before `pulumi up`")
		}
		if mark := step("mark"); mark < up {
			fail("does not run `release mark` after `pulumi up`")
		}
		if prune := step("prune"); prune >= 0 && !isTrue(job.Steps[prune].ContinueOnError) {
			fail("prunes the registry in a step whose failure fails the deploy")
		}
	}
	return out
}

var goCompiles = regexp.MustCompile(`(^|[\s|;&(])go\s+(run|build|install)\s`)

// IsSwitchToBinary tells the step that points Pulumi.yaml at the downloaded program. It replaces the
// buildTarget line rather than adding one: the language host refuses both ("binary and buildTarget
// cannot both be specified", parseOptions in pulumi-language-go/main.go).
func IsSwitchToBinary(run string) bool {
	return strings.Contains(run, "Pulumi.yaml") && strings.Contains(run, "binary: bin/ecs-api")
}

func (j *Job) builds() bool {
	compiles := j.runs(func(s string) bool {
		return slices.ContainsFunc(strings.Split(s, "\n"), func(line string) bool { return strings.TrimSpace(line) == HostBuild })
	})
	uploads := slices.ContainsFunc(j.Steps, func(s Step) bool {
		return uses(s, "actions/upload-artifact") && s.With["name"] == Artifact
	})
	return compiles && uploads
}

// runs reports whether any of the job's scripts matches.
func (j *Job) runs(match func(string) bool) bool {
	return slices.ContainsFunc(j.Steps, func(s Step) bool { return s.Run != "" && match(s.Run) })
}

func (w *Workflow) triggeredBy(event string) bool {
	switch w.On.Kind {
	case yaml.ScalarNode:
		return w.On.Value == event
	case yaml.SequenceNode:
		return slices.ContainsFunc(w.On.Content, func(n *yaml.Node) bool { return n.Value == event })
	case yaml.MappingNode:
		for i := 0; i < len(w.On.Content); i += 2 {
			if w.On.Content[i].Value == event {
				return true
			}
		}
	}
	return false
}

// pulumiCommand is the command of a pulumi/actions step, "" for any other step.
func pulumiCommand(s Step) string {
	if !uses(s, "pulumi/actions") {
		return ""
	}
	c, _ := s.With["command"].(string)
	if c == "" {
		c = "unknown"
	}
	return c
}

func uses(s Step, action string) bool {
	return strings.HasPrefix(s.Uses, action+"@")
}

func isTrue(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

func isFalse(v any) bool {
	switch v := v.(type) {
	case bool:
		return !v
	case string:
		return v == "false"
	}
	return false
}

func integer(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

func jobNames(w *Workflow) []string {
	names := make([]string, 0, len(w.Jobs))
	for n := range w.Jobs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
