// Package docs reads the repository's Markdown the way GitHub renders it: the anchors its headings
// get and the links it holds, so tests can check that every link resolves and that the text a test
// relies on is on the page it names.
package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
)

// Pages lists the topic pages under docs/, each linked from README.md.
var Pages = []string{
	"architecture.md", "configuration.md", "scaling.md", "data.md", "jobs.md", "networking.md",
	"domain.md", "security.md", "delivery.md", "operating.md", "runbooks.md",
}

// Read returns the text of a page, path relative to the repository root (README.md, docs/jobs.md).
func Read(root, path string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
	if err != nil {
		return "", fmt.Errorf("docs: %w", err)
	}
	return string(raw), nil
}

// Root finds the repository root (the directory holding go.mod) from the working directory up.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("docs: no go.mod above the working directory")
		}
		dir = parent
	}
}

var (
	headingLink     = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	headingHTML     = regexp.MustCompile(`<[^>]+>`)
	headingEmphasis = regexp.MustCompile(`(^|[^\pL\pN])[*_]+|[*_]+([^\pL\pN]|$)`)
)

// Slug is the anchor GitHub gives a heading, from its text as rendered (a link's text, not its
// target; no HTML tags; no emphasis markers): lower case, letters, digits, '-' and '_' kept, spaces
// turned into '-', everything else (backticks, punctuation, '<', '>') dropped.
func Slug(heading string) string {
	text := headingLink.ReplaceAllString(heading, "$1")
	if !strings.Contains(text, "`") {
		text = headingHTML.ReplaceAllString(text, "")
		text = headingEmphasis.ReplaceAllString(text, "$1$2")
	}
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// Heading is one heading outside code blocks: its level (number of '#'), text and anchor.
type Heading struct {
	Level  int
	Text   string
	Anchor string
	Line   int
}

var headingLine = regexp.MustCompile(`^(#{1,6}) +(.+?) *#*$`)

// Headings lists a page's headings in order, with GitHub's anchors: a repeated anchor gets -1, -2...
func Headings(markdown string) []Heading {
	var out []Heading
	seen := map[string]int{}
	for i, line := range proseLines(markdown) {
		m := headingLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		anchor := Slug(m[2])
		if n := seen[anchor]; n > 0 {
			seen[anchor] = n + 1
			anchor = fmt.Sprintf("%s-%d", anchor, n)
		} else {
			seen[anchor] = 1
		}
		out = append(out, Heading{Level: len(m[1]), Text: m[2], Anchor: anchor, Line: i + 1})
	}
	return out
}

// Anchors is the set of a page's heading anchors.
func Anchors(markdown string) map[string]bool {
	set := map[string]bool{}
	for _, h := range Headings(markdown) {
		set[h.Anchor] = true
	}
	return set
}

// Link is one inline link's target and the line it is on.
type Link struct {
	Target string
	Line   int
}

var (
	// An inline link's destination, optionally in <>, optionally followed by a "title".
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// A reference definition: [label]: destination.
	referenceLink = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	inlineCode    = regexp.MustCompile("`[^`]*`")
)

// Links lists the links of a page's prose, inline and reference definitions, not those inside code
// blocks or code spans. A "](" that is not a link this reads is an error, so that a link the
// reader does not understand cannot pass unchecked.
func Links(markdown string) ([]Link, error) {
	var out []Link
	var errs []string
	for i, line := range proseLines(markdown) {
		prose := inlineCode.ReplaceAllString(line, "")
		if m := referenceLink.FindStringSubmatch(prose); m != nil {
			out = append(out, Link{Target: m[1], Line: i + 1})
		}
		found := inlineLink.FindAllStringSubmatch(prose, -1)
		for _, m := range found {
			out = append(out, Link{Target: m[1], Line: i + 1})
		}
		if n := strings.Count(prose, "]("); n != len(found) {
			errs = append(errs, fmt.Sprintf("line %d: %d of %d links not understood: %s", i+1, n-len(found), n, line))
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("docs: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// Section is the text under the heading with this anchor, up to the next heading of the same or a
// higher level; empty when there is no such heading.
func Section(markdown, anchor string) string {
	lines := strings.Split(markdown, "\n")
	headings := Headings(markdown)
	for i, h := range headings {
		if h.Anchor != anchor {
			continue
		}
		end := len(lines)
		for _, next := range headings[i+1:] {
			if next.Level <= h.Level {
				end = next.Line - 1
				break
			}
		}
		return strings.Join(lines[h.Line:end], "\n")
	}
	return ""
}

// proseLines is the page's lines with those inside fenced code blocks blanked, so line numbers stay.
func proseLines(markdown string) []string {
	lines := strings.Split(markdown, "\n")
	out := make([]string, len(lines))
	fence := ""
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")):
			fence = trimmed[:3]
		case fence != "" && strings.HasPrefix(trimmed, fence):
			fence = ""
		case fence == "":
			out[i] = line
		}
	}
	return out
}
