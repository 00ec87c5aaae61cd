package docs

import (
	"os"
	"path"
	"slices"
	"strings"
	"testing"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// allPages is README.md and every Markdown page under docs/, as paths from the root.
func allPages(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(root(t) + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	pages := []string{"README.md"}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".md") {
			pages = append(pages, "docs/"+e.Name())
		}
	}
	return pages
}

// TestSlugIsGitHubs pins the anchor rules against headings GitHub renders in this repository.
func TestSlugIsGitHubs(t *testing.T) {
	for heading, want := range map[string]string{
		"Rollouts":                     "rollouts",
		"Many instances: shared state": "many-instances-shared-state",
		"Releasing an image from the app's CI to prod":    "releasing-an-image-from-the-apps-ci-to-prod",
		"Security posture: the policy suite":              "security-posture-the-policy-suite",
		"`lb-5xx`":                                        "lb-5xx",
		"5xx-rate":                                        "5xx-rate",
		"Scheduled jobs: run once, not once per instance": "scheduled-jobs-run-once-not-once-per-instance",
		"Dependabot's pull requests":                      "dependabots-pull-requests",
		"A _b_ c":                                         "a-b-c",
		"See [x](y.md)":                                   "see-x",
		"snake_case *bold*":                               "snake_case-bold",
		"`<service>-tasks-below-desired`":                 "service-tasks-below-desired",
	} {
		if got := Slug(heading); got != want {
			t.Errorf("Slug(%q) = %q, want %q", heading, got, want)
		}
	}
	if got := Headings("# A\n## A\n```\n# not a heading\n```\n### A\n"); len(got) != 3 || got[1].Anchor != "a-1" || got[2].Anchor != "a-2" {
		t.Errorf("repeated headings: %+v, want a, a-1, a-2 and nothing from the code block", got)
	}
	links, err := Links("[a](x.md \"title\") and [b](<y.md#z>)\n[ref]: z.md#w\n`[not](a link)` [c](d e f)\n")
	var targets []string
	for _, l := range links {
		targets = append(targets, l.Target)
	}
	if !slices.Equal(targets, []string{"x.md", "y.md#z", "z.md#w"}) || err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("Links: %q, %v; want x.md, y.md#z, z.md#w and an error for the link it cannot read on line 3", targets, err)
	}
}

// TestEveryRelativeLinkResolves: every link from README.md and docs/ to a file of the repository
// names a file that exists, and every #anchor a heading on that page.
func TestEveryRelativeLinkResolves(t *testing.T) {
	r := root(t)
	checked := 0
	for _, page := range allPages(t) {
		text, err := Read(r, page)
		if err != nil {
			t.Fatal(err)
		}
		links, err := Links(text)
		if err != nil {
			t.Errorf("%s: %v", page, err)
		}
		for _, l := range links {
			if strings.Contains(l.Target, "://") || strings.HasPrefix(l.Target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(l.Target, "#")
			target := page
			if file != "" {
				target = path.Clean(path.Join(path.Dir(page), file))
			}
			if _, err := os.Stat(r + "/" + target); err != nil {
				t.Errorf("%s:%d: link %q: %s does not exist", page, l.Line, l.Target, target)
				continue
			}
			checked++
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(target, ".md") {
				t.Errorf("%s:%d: link %q: an anchor into a file that is not Markdown", page, l.Line, l.Target)
				continue
			}
			linked, err := Read(r, target)
			if err != nil {
				t.Fatal(err)
			}
			if !Anchors(linked)[anchor] {
				t.Errorf("%s:%d: link %q: %s has no heading with anchor #%s", page, l.Line, l.Target, target, anchor)
			}
		}
	}
	if checked < 30 {
		t.Errorf("checked %d relative links, want the README's index and the pages' cross-references at least", checked)
	}
}

// TestREADMEIsAFrontPage: README.md stays short, gives the two commands first and links every page.
func TestREADMEIsAFrontPage(t *testing.T) {
	r := root(t)
	readme, err := Read(r, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(readme, "\n"); n > 300 {
		t.Errorf("README.md has %d lines; a front page has at most 300: move the detail to a page under docs/", n)
	}
	var targets []string
	links, err := Links(readme)
	if err != nil {
		t.Error(err)
	}
	for _, l := range links {
		targets = append(targets, l.Target)
	}
	for _, page := range Pages {
		if !slices.Contains(targets, "docs/"+page) {
			t.Errorf("README.md does not link docs/%s", page)
		}
	}
	for _, page := range allPages(t)[1:] {
		if !slices.Contains(Pages, strings.TrimPrefix(page, "docs/")) {
			t.Errorf("%s is not in docs.Pages, so README's index need not link it", page)
		}
	}
}
