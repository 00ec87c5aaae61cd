package infra

import (
	"fmt"
	"strings"
)

// RunbookPage is the page of this repository with a section for every alarm and alert.
const RunbookPage = "docs/runbooks.md"

// Runbooks builds the link each alarm's description and each alert's message carries to its
// section of docs/runbooks.md, so whoever is paged lands on what to do.
type Runbooks struct {
	// URL is where docs/runbooks.md opens in a browser (config's runbookUrl, validated there: https,
	// no fragment, nothing a template would read as markup); empty: the page's path in the repository.
	URL string
}

// Link is the section's address: the page and "#<anchor>", the anchor GitHub gives its heading.
func (r Runbooks) Link(anchor string) string {
	page := r.URL
	if page == "" {
		page = RunbookPage
	}
	return page + "#" + anchor
}

// RunbookLabel starts the last sentence of every alarm description and alert message.
const RunbookLabel = "Runbook: "

// withRunbook ends a text with its runbook's link, cutting the text (never the link) so that the
// whole fits limit characters.
func (r Runbooks) withRunbook(text, anchor string, limit int) (string, error) {
	if anchor == "" || strings.ContainsAny(anchor, "# ") {
		return "", fmt.Errorf("runbook anchor %q: want a heading anchor of %s", anchor, RunbookPage)
	}
	tail := " " + RunbookLabel + r.Link(anchor)
	// truncate needs room for at least one byte and its "...".
	if len(tail)+len("x...") > limit {
		return "", fmt.Errorf("runbook link %q leaves no room in %d characters", tail, limit)
	}
	return truncate(text, limit-len(tail)) + tail, nil
}
