package workflows

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/acme/ecs-api/internal/docs"
)

// Accepted so that `go test ./... -update` (the snapshot tests' flag) runs here too; nothing to update.
var _ = flag.Bool("update", false, "unused here")

const root = "../.."

func load(t *testing.T, path string) *Workflow {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Parse(filepath.Base(path), content)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func workflows(t *testing.T) map[string]*Workflow {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no workflows found (%v)", err)
	}
	all := map[string]*Workflow{}
	for _, p := range paths {
		all[filepath.Base(p)] = load(t, p)
	}
	return all
}

// flagged groups findings as rule -> jobs.
func flagged(findings []Finding) map[string][]string {
	out := map[string][]string{}
	for _, f := range findings {
		if !slices.Contains(out[f.Rule], f.Job) {
			out[f.Rule] = append(out[f.Rule], f.Job)
		}
	}
	for _, jobs := range out {
		slices.Sort(jobs)
	}
	return out
}

func TestWorkflowsPassEveryCheck(t *testing.T) {
	for _, w := range workflows(t) {
		for _, f := range Check(w) {
			t.Errorf("%s", f)
		}
	}
}

// The workflows as they were when review C was written (testdata/before-review-c, from git): every
// rule must find what the review found there, and nothing else.
func TestChecksFindReviewCFindingsInTheWorkflowsBeforeIt(t *testing.T) {
	for _, tc := range []struct {
		file string
		want map[string][]string
	}{
		{"release.yml", map[string][]string{
			RulePushCredentials: {"propose"},
		}},
		{"deploy.yml", map[string][]string{
			RulePushCredentials: {"promote"},
			RuleSessionDuration: {"dev", "prod"},
			RulePrebuiltProgram: {"dev", "prod"},
			RuleRunningRecord:   {"dev", "prod"},
		}},
		{"pull-request.yml", map[string][]string{
			RuleDependabotPreview: {"preview"},
			RulePrebuiltProgram:   {"preview"},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := flagged(Check(load(t, filepath.Join("testdata", "before-review-c", tc.file))))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("flagged %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRulesOnSmallWorkflows(t *testing.T) {
	const pushJob = `
on: push
jobs:
  j:
    steps:
      - uses: actions/checkout@v4
        with: %s
      - run: |
          %s
          git push "https://x-access-token:${GH_TOKEN}@github.com/${GITHUB_REPOSITORY}.git" b
`
	const upJob = `
on: push
jobs:
  j:
    steps:
      - uses: aws-actions/configure-aws-credentials@v4
        with: %s
      - uses: pulumi/actions@v6
        with: {command: %s}
`
	const previewJob = `
on: %s
jobs:
  j:
    if: %s
    steps:
      - uses: pulumi/actions@v6
        with: {command: preview}
`
	const recordJob = `
on: push
jobs:
  j:
    steps:
      - run: %s
      - uses: pulumi/actions@v6
        with: {command: up}
      - run: bin/release mark --stack dev
      - continue-on-error: %s
        run: bin/release prune --stack dev --delete
`
	for _, tc := range []struct {
		name     string
		workflow string
		rule     func(*Workflow) []Finding
		flagged  bool
	}{
		{"hold before up, prune may fail", fmt.Sprintf(recordJob, "bin/release hold --stack dev", "true"), CheckRunningRecord, false},
		{"no hold before up", fmt.Sprintf(recordJob, "echo", "true"), CheckRunningRecord, true},
		{"a failed prune fails the deploy", fmt.Sprintf(recordJob, "bin/release hold --stack dev", "false"), CheckRunningRecord, true},
		{"checkout with its default persists the token", fmt.Sprintf(pushJob, "{}", ""), CheckPushCredentials, true},
		{"persist-credentials: false", fmt.Sprintf(pushJob, "{persist-credentials: false}", ""), CheckPushCredentials, false},
		{`persist-credentials: "false"`, fmt.Sprintf(pushJob, `{persist-credentials: "false"}`, ""), CheckPushCredentials, false},
		{"the push token as checkout's token", fmt.Sprintf(pushJob, "{token: '${{ secrets.RELEASE_TOKEN }}'}", ""), CheckPushCredentials, false},
		{"no credentials, yet origin is read", fmt.Sprintf(pushJob, "{persist-credentials: false}", `git ls-remote --exit-code --heads origin "$branch"`), CheckPushCredentials, true},
		{"no role-duration-seconds", fmt.Sprintf(upJob, "{role-to-assume: r}", "up"), CheckSessionDuration, true},
		{"one hour", fmt.Sprintf(upJob, "{role-duration-seconds: 3600}", "up"), CheckSessionDuration, true},
		{"two hours as a string", fmt.Sprintf(upJob, `{role-duration-seconds: "7200"}`, "up"), CheckSessionDuration, false},
		{"preview needs no long session", fmt.Sprintf(upJob, "{}", "preview"), CheckSessionDuration, false},
		{"no if", fmt.Sprintf(previewJob, "pull_request", "''"), CheckDependabotPreview, true},
		{"dependabot excluded", fmt.Sprintf(previewJob, "[pull_request]", "github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'"), CheckDependabotPreview, false},
		{"dependabot excluded in ${{ }}", fmt.Sprintf(previewJob, "{pull_request: {branches: [main]}}", "${{ github.actor  !=  'dependabot[bot]' }}"), CheckDependabotPreview, false},
		{"an || lets it back in", fmt.Sprintf(previewJob, "pull_request", "github.actor != 'dependabot[bot]' || always()"), CheckDependabotPreview, true},
		{"not a pull request workflow", fmt.Sprintf(previewJob, "push", "''"), CheckDependabotPreview, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Parse("test.yml", []byte(tc.workflow))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.rule(w); (len(got) > 0) != tc.flagged {
				t.Errorf("flagged = %v (%v), want %v", len(got) > 0, got, tc.flagged)
			}
		})
	}
}

// One build job, copied into both workflows that run Pulumi: they must not drift apart.
func TestBuildJobIsTheSameInBothWorkflows(t *testing.T) {
	all := workflows(t)
	pr, deploy := all["pull-request.yml"].Jobs["build"], all["deploy.yml"].Jobs["build"]
	if pr == nil || deploy == nil {
		t.Fatal("pull-request.yml and deploy.yml each need a build job")
	}
	if !reflect.DeepEqual(pr, deploy) {
		t.Errorf("the build jobs differ:\npull-request.yml: %+v\ndeploy.yml: %+v", pr, deploy)
	}
}

// The build job writes where Pulumi.yaml's buildTarget points, so the switched `binary:` runs it.
func TestBuildJobWritesPulumiYAMLsBuildTarget(t *testing.T) {
	options := runtimeOptions(t, filepath.Join(root, "Pulumi.yaml"))
	if want := map[string]any{"buildTarget": "bin/ecs-api"}; !reflect.DeepEqual(options, want) {
		t.Fatalf("Pulumi.yaml runtime.options = %v, want %v (the workflows switch exactly that line)", options, want)
	}
	if !strings.HasSuffix(HostBuild, " -o "+options["buildTarget"].(string)+" .") {
		t.Errorf("%q does not write the buildTarget", HostBuild)
	}
}

func runtimeOptions(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Runtime struct {
			Options map[string]any `yaml:"options"`
		} `yaml:"runtime"`
	}
	if err := yaml.Unmarshal(raw, &project); err != nil {
		t.Fatal(err)
	}
	return project.Runtime.Options
}

// switchScript is the step that points Pulumi.yaml at the downloaded program; every job that runs
// Pulumi carries the same one.
func switchScript(t *testing.T) string {
	t.Helper()
	var scripts []string
	for file, w := range workflows(t) {
		for name, job := range w.Jobs {
			for _, s := range job.Steps {
				if IsSwitchToBinary(s.Run) {
					if len(scripts) > 0 && s.Run != scripts[0] {
						t.Errorf("%s job %s switches Pulumi.yaml differently from the other jobs", file, name)
					}
					scripts = append(scripts, s.Run)
				}
			}
		}
	}
	if len(scripts) != 3 {
		t.Fatalf("%d jobs switch Pulumi.yaml to binary:, want 3 (preview, dev, prod)", len(scripts))
	}
	return scripts[0]
}

// Runs the switch step as a job does (bash -e) on a copy of Pulumi.yaml and a downloaded artifact,
// with a stand-in `git` that reports the checked-out commit.
func TestSwitchStepRunsTheDownloadedProgram(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := switchScript(t)
	const head = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
	project, err := os.ReadFile(filepath.Join(root, "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, builtFrom string, project []byte) (string, string, error) {
		dir := t.TempDir()
		fake := filepath.Join(dir, "fakebin")
		write(t, filepath.Join(fake, "git"), "#!/bin/sh\n[ \"$*\" = 'rev-parse HEAD' ] && echo "+head+"\n", 0o755)
		checkout := filepath.Join(dir, "checkout")
		write(t, filepath.Join(checkout, "Pulumi.yaml"), string(project), 0o644)
		for _, f := range []string{"ecs-api", "verify", "release"} {
			write(t, filepath.Join(checkout, "bin", f), "binary", 0o644) // as download-artifact leaves them
		}
		write(t, filepath.Join(checkout, "bin", "commit"), builtFrom+"\n", 0o644)
		write(t, filepath.Join(dir, "step.sh"), script, 0o644)
		cmd := exec.Command(bash, "-e", filepath.Join(dir, "step.sh"))
		cmd.Dir = checkout
		cmd.Env = append(os.Environ(), "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return checkout, string(out), err
	}

	t.Run("built from this commit", func(t *testing.T) {
		checkout, out, err := run(t, head, project)
		if err != nil {
			t.Fatalf("step failed: %v\n%s", err, out)
		}
		if got, want := runtimeOptions(t, filepath.Join(checkout, "Pulumi.yaml")), map[string]any{"binary": "bin/ecs-api"}; !reflect.DeepEqual(got, want) {
			t.Errorf("runtime.options = %v, want %v", got, want)
		}
		switched, _ := os.ReadFile(filepath.Join(checkout, "Pulumi.yaml"))
		if strings.Replace(string(project), "buildTarget: bin/ecs-api", "binary: bin/ecs-api", 1) != string(switched) {
			t.Errorf("the step changed more of Pulumi.yaml than its buildTarget line")
		}
		for _, f := range []string{"ecs-api", "verify", "release"} {
			info, err := os.Stat(filepath.Join(checkout, "bin", f))
			if err != nil || info.Mode()&0o100 == 0 {
				t.Errorf("bin/%s is not executable after the step (%v)", f, err)
			}
		}
	})
	t.Run("built from another commit", func(t *testing.T) {
		checkout, out, err := run(t, strings.Repeat("0", 40), project)
		if err == nil {
			t.Fatalf("step accepted a program built from another commit:\n%s", out)
		}
		if got := runtimeOptions(t, filepath.Join(checkout, "Pulumi.yaml")); got["binary"] != nil {
			t.Errorf("Pulumi.yaml was switched anyway: %v", got)
		}
	})
	t.Run("Pulumi.yaml without the buildTarget line", func(t *testing.T) {
		other := strings.Replace(string(project), "buildTarget: bin/ecs-api", "buildTarget: bin/other", 1)
		if _, out, err := run(t, head, []byte(other)); err == nil {
			t.Fatalf("step passed with nothing to switch:\n%s", out)
		}
	})
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// docs/delivery.md describes these workflows: the session the deploy role must allow, what
// Dependabot's pull requests get, the build command, and the release commands of the walk-through.
func TestDeliveryPageMatchesWorkflows(t *testing.T) {
	readme, err := docs.Read(root, "docs/delivery.md")
	if err != nil {
		t.Fatal(err)
	}
	all := workflows(t)

	longest := 0
	for _, w := range all {
		for _, job := range w.Jobs {
			for _, s := range job.Steps {
				if n, ok := integer(s.With["role-duration-seconds"]); ok && n > longest {
					longest = n
				}
			}
		}
	}
	row := regexp.MustCompile("(?m)^\\| `AWS_DEPLOY_ROLE_ARN` .*$").FindString(readme)
	m := regexp.MustCompile(`MaxSessionDuration[^|0-9]*?(\d+)`).FindStringSubmatch(row)
	if m == nil {
		t.Errorf("docs/delivery.md's AWS_DEPLOY_ROLE_ARN row does not give the role's MaxSessionDuration: %q", row)
	} else if n, _ := strconv.Atoi(m[1]); n < longest {
		t.Errorf("docs/delivery.md asks for MaxSessionDuration %d, but a job asks for %d seconds", n, longest)
	}

	if strings.Contains(readme, "same tests and previews") {
		t.Error("docs/delivery.md still promises Dependabot's pull requests previews")
	}
	if !strings.Contains(readme, "dependabot[bot]") {
		t.Error("docs/delivery.md does not say that previews skip dependabot[bot]")
	}
	if !strings.Contains(readme, HostBuild) {
		t.Errorf("docs/delivery.md does not show the build job's command %q", HostBuild)
	}

	deploy := ""
	for _, job := range all["deploy.yml"].Jobs {
		for _, s := range job.Steps {
			deploy += s.Run + "\n"
		}
	}
	// The numbered walk-through of a release says which cmd/release commands deploy.yml runs.
	walk := docs.Section(readme, "releasing-an-image-from-the-apps-ci-to-prod")
	if i := strings.Index(walk, "\nBy hand,"); i >= 0 {
		walk = walk[:i]
	}
	commands := regexp.MustCompile("go run ./cmd/release ([a-z]+(?: --[a-z-]+ [a-z]+)+)").FindAllStringSubmatch(walk, -1)
	if len(commands) == 0 {
		t.Error("docs/delivery.md's walk-through names no cmd/release command")
	}
	for _, c := range commands {
		if !strings.Contains(deploy, "bin/release "+c[1]) {
			t.Errorf("docs/delivery.md says deploy.yml runs `release %s`; it does not", c[1])
		}
	}
}
