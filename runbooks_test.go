package main

// Every alarm and every alert links to its section of docs/runbooks.md, and every section there
// belongs to an alarm or alert the program creates, over the whole graph of every stack file and
// variant.

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/docs"
	"github.com/acme/ecs-api/internal/pulumitest"
)

// runbookLink is how an alarm's description or an alert's description ends: the label, the page
// (the repository path, or runbookUrl) and the section's anchor.
var runbookLink = regexp.MustCompile(regexp.QuoteMeta(infra.RunbookLabel) + `(\S+)#([a-z0-9_-]+)$`)

// runbookSections are the alarm and alert sections of docs/runbooks.md, by anchor, with their text.
func runbookSections(t *testing.T) map[string]string {
	t.Helper()
	text := page(t, infra.RunbookPage)
	sections := map[string]string{}
	for _, group := range []string{"alarms", "eventbridge-alerts"} {
		if docs.Section(text, group) == "" {
			t.Fatalf("%s has no section #%s", infra.RunbookPage, group)
		}
	}
	var group string
	for _, h := range docs.Headings(text) {
		switch h.Level {
		case 2:
			group = h.Anchor
		case 3:
			if group == "alarms" || group == "eventbridge-alerts" {
				sections[h.Anchor] = docs.Section(text, h.Anchor)
			}
		}
	}
	return sections
}

// linkedRunbook checks that one alarm or alert text ends with a link to the runbook page it should
// name and returns the anchor.
func linkedRunbook(t *testing.T, what, text, page string) string {
	t.Helper()
	m := runbookLink.FindStringSubmatch(text)
	if m == nil {
		t.Errorf("%s does not end with %q and its runbook's link: %q", what, infra.RunbookLabel, text)
		return ""
	}
	if m[1] != page {
		t.Errorf("%s links the runbook page %q, want %q", what, m[1], page)
	}
	return m[2]
}

// TestEveryAlertLinksToItsRunbook: the description of every CloudWatch alarm (which CloudWatch puts
// in its mail) and of every message an EventBridge rule sends ends with the link to a section of
// docs/runbooks.md that exists and says what it means, what to look at first and how to fix it;
// and every section there is linked by something the program creates, so none goes stale. A new
// alarm or rule without a runbook fails here. The description is read raw from the template
// EventBridge receives, then from the message it sends once filled in.
func TestEveryAlertLinksToItsRunbook(t *testing.T) {
	sections := runbookSections(t)
	for anchor, text := range sections {
		for _, part := range []string{"**What it means.**", "**Look first.**", "**Fix or escalate.**"} {
			if !strings.Contains(text, part) {
				t.Errorf("%s#%s lacks %s", infra.RunbookPage, anchor, part)
			}
		}
	}
	var mu sync.Mutex
	linked := map[string]bool{}
	// check reads every alarm and alert of one run; jobs are the stack's job names, which the
	// sections write as <job>.
	check := func(t *testing.T, m *pulumitest.Mocks, page string, jobs []config.JobConfig) {
		// link checks one text's link and that the section it links names the alarm or rule by its
		// logical name, so two alarms cannot swap sections unnoticed.
		link := func(what, logical, text string) string {
			anchor := linkedRunbook(t, what, text, page)
			if anchor == "" {
				return ""
			}
			section, ok := sections[anchor]
			if !ok {
				t.Errorf("%s links %s#%s, which is no alarm or alert section of that page", what, infra.RunbookPage, anchor)
			}
			for _, j := range jobs {
				logical = strings.Replace(logical, "-"+j.Name+"-", "-<job>-", 1)
			}
			if ok && !strings.Contains(section, "`"+logical+"`") && !strings.Contains(section, "/"+logical+"`") {
				t.Errorf("%s links %s#%s, a section that does not name it (%s)", what, infra.RunbookPage, anchor, logical)
			}
			mu.Lock()
			linked[anchor] = true
			mu.Unlock()
			return anchor
		}
		for _, a := range m.OfType(alarmType) {
			description := a.Str("alarmDescription")
			if len(description) > infra.MaxAlarmDescription {
				t.Errorf("alarm %s: description of %d characters; PutMetricAlarm takes %d", a.Name, len(description), infra.MaxAlarmDescription)
			}
			link("alarm "+a.Name, strings.TrimPrefix(a.Str("name"), infra.AlarmNamePrefix(m.Project, m.Stack)), description)
		}
		for _, tg := range m.OfType(targetType) {
			if !tg.Has("inputTransformer") {
				continue
			}
			raw := tg.Str("inputTransformer.inputTemplate")
			var sent struct {
				Content struct{ Description string } `json:"content"`
			}
			if err := json.Unmarshal([]byte(filledTemplate(t, tg).filled), &sent); err != nil {
				t.Errorf("target %s: the message is not JSON: %v", tg.Name, err)
				continue
			}
			rule := tg.Name[:strings.LastIndex(tg.Name, "-")] // one target per destination: <rule>-<i>
			anchor := link("the message of target "+tg.Name, rule, sent.Content.Description)
			if want := infra.RunbookLabel + page + "#" + anchor + `"`; anchor != "" && !strings.Contains(raw, want) {
				t.Errorf("target %s: the template does not end its description with %s as written: %s", tg.Name, want, raw)
			}
		}
	}
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		check(t, m, infra.RunbookPage, loadedConfig(t, stack, v).Jobs)
	})
	for _, stack := range stackFiles(t) {
		t.Run(stack+"/migrate", func(t *testing.T) {
			v, _ := migrateVariant(t, stack)
			project, cfg := variantConfig(t, stack, v)
			m, err := pulumitest.Run(project, stack, cfg, program)
			if err != nil {
				t.Fatal(err)
			}
			check(t, m, infra.RunbookPage, loadedConfig(t, stack, v).Jobs)
		})
		t.Run(stack+"/runbook-url", func(t *testing.T) {
			const url = "https://github.com/my-org/ecs-api/blob/main/docs/runbooks.md"
			v := variant{name: "runbook-url", plain: map[string]string{"runbookUrl": url},
				objects: map[string]map[string]any{"alerts": {"enabled": true}, "alarms": {"enabled": true}}}
			project, cfg := variantConfig(t, stack, v)
			m, err := pulumitest.Run(project, stack, cfg, program)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.OfType(alarmType)) == 0 || len(m.OfType(targetType)) == 0 {
				t.Fatal("no alarm or rule target with alerts on")
			}
			check(t, m, url, loadedConfig(t, stack, v).Jobs)
		})
	}
	for anchor := range sections {
		// ElastiCache writes its own messages to its topic; the stack cannot add a link to them.
		if anchor == "cache-events" {
			continue
		}
		if !linked[anchor] {
			t.Errorf("%s#%s is linked by no alarm or alert of any stack file or variant: a stale section, or an alert that lost its link", infra.RunbookPage, anchor)
		}
	}
	if _, ok := sections["cache-events"]; !ok {
		t.Errorf("%s has no #cache-events section for ElastiCache's own messages", infra.RunbookPage)
	}
}

// dashboardWidgets are the titles of every widget the dashboard can show.
var dashboardWidgets = []string{
	infra.WidgetAlarms, infra.WidgetRequests, infra.WidgetResponses, infra.WidgetLatency, infra.WidgetTargets,
	infra.WidgetTasks, infra.WidgetCapacity, infra.WidgetServiceCPU, infra.WidgetServiceMem, infra.WidgetDatabase,
	infra.WidgetDatabaseLoad, infra.WidgetCache, infra.WidgetCacheEvict, infra.WidgetJobs,
}

// TestOperatingPageNamesEveryDashboardWidget: the dashboard's layout table in docs/operating.md, which
// the runbooks point to by widget title, names every widget by the title the dashboard shows.
func TestOperatingPageNamesEveryDashboardWidget(t *testing.T) {
	layout := docs.Section(page(t, "docs/operating.md"), "the-dashboard")
	for _, title := range dashboardWidgets {
		if !regexp.MustCompile(`(?m)^\| [0-9] \| (.*; )?` + regexp.QuoteMeta(title) + `( \(|;| \||:)`).MatchString(layout) {
			t.Errorf("docs/operating.md's dashboard table does not name the widget %q", title)
		}
	}
}

// TestRunbooksNameRealDashboardWidgets: where a runbook says to look at a widget of the dashboard,
// it names one by the title the dashboard shows.
func TestRunbooksNameRealDashboardWidgets(t *testing.T) {
	titles := dashboardWidgets
	text := strings.Join(strings.Fields(page(t, infra.RunbookPage)), " ")
	named := 0
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile("`([^`]+)` widget"),                            // the `Tasks` widget
		regexp.MustCompile("`([^`]+)` and `([^`]+)` widgets"),             // the `A` and `B` widgets
		regexp.MustCompile("widgets `([^`]+)`(?:, `([^`]+)`)*"),           // widgets `A`, `B`
		regexp.MustCompile("widget[^.;]*?\\) and `([^`]+)`"),              // widget (...) and `B`
		regexp.MustCompile("`([^`]+)` widgets?[^.;]*? and `([^`]+)`[;.]"), // the `A` widget ... and `B`;
	} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			for _, title := range m[1:] {
				if title == "" {
					continue
				}
				named++
				if !slices.Contains(titles, title) {
					t.Errorf("%s names the widget %q; the dashboard's are %q", infra.RunbookPage, title, titles)
				}
			}
		}
	}
	if named < 20 {
		t.Errorf("found %d widget names in %s; the runbooks point to the dashboard far more often", named, infra.RunbookPage)
	}
}

// TestRunbookCommandsParse: the commands a runbook gives are pasted into a shell at 3 a.m. as they
// stand, so each sh block of docs/runbooks.md parses as bash (no <placeholder> that bash reads as a
// redirection: the stack and job come from $STACK and $JOB).
func TestRunbookCommandsParse(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this machine")
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(page(t, infra.RunbookPage), -1)
	if len(blocks) < 20 {
		t.Fatalf("%d sh blocks in %s; every section gives a command", len(blocks), infra.RunbookPage)
	}
	placeholder := regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _-]*>`)
	for i, b := range blocks {
		// bash reads "--tasks <task-arn> --query" as two redirections and parses it: look for them.
		if p := placeholder.FindString(b[1]); p != "" {
			t.Errorf("%s: sh block %d has the placeholder %s, which bash reads as a redirection; use a variable", infra.RunbookPage, i+1, p)
		}
		cmd := exec.Command(bash, "-n")
		cmd.Stdin = strings.NewReader(b[1])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: sh block %d does not parse: %v\n%s\n%s", infra.RunbookPage, i+1, err, out, b[1])
		}
	}
}

// TestDocsNameTheAlarmsWhoseRecoveryIsNotTold: the alarms that count events send no "OK again"
// (countingAlarms, which TestAlarmsNameTheStackAndRecoveriesAreToldOnlyAfterAnAlarm checks against
// the recovery rule); the alerts table and the alarm-recovered runbook name every one of them.
func TestDocsNameTheAlarmsWhoseRecoveryIsNotTold(t *testing.T) {
	recovered := docs.Section(page(t, infra.RunbookPage), "alarm-recovered")
	var row string
	for _, line := range strings.Split(page(t, "docs/operating.md"), "\n") {
		if strings.HasPrefix(line, "| an alarm on a lasting condition is OK again") {
			row = line
		}
	}
	for _, name := range countingAlarms {
		short := "`" + strings.TrimPrefix(name, "monitoring-") + "`"
		if !strings.Contains(recovered, short) {
			t.Errorf("%s#alarm-recovered does not say that %s sends no recovery", infra.RunbookPage, short)
		}
		if !strings.Contains(row, short) {
			t.Errorf("docs/operating.md's recovery row does not name %s among the alarms left out", short)
		}
	}
}
