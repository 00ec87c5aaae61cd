// Package policy is the program's own compliance suite: one control per rule of AWS Security Hub's
// Foundational Security Best Practices that applies here (and a few of the project's own, prefixed
// APP.), evaluated over the full resource graph a stack registers. Provider validation and CrossGuard
// policy packs do not run under unit-test mocks, so the posture is proven here instead.
package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/acme/ecs-api/policy/controlid"
)

// Severity ranks a control as Security Hub does.
type Severity string

const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Control is one rule: an id (Security Hub's where one exists), what it asks, and its check.
type Control struct {
	ID       string
	Title    string
	Severity Severity
	// ProductionOnly controls apply to production stacks only (stacks named prod*).
	ProductionOnly bool
	// Satisfied says what in this program meets the control, for the table in docs/security.md.
	Satisfied string
	Check     func(s *Stack, report Reporter)
}

// Reporter records one violation: the resource, the property at fault, and what is wrong.
type Reporter func(r *Resource, property, format string, args ...any)

// Violation is one failed check.
type Violation struct {
	Control  string
	Severity Severity
	Resource string
	Property string
	Message  string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s [%s] %s: %s: %s", v.Control, v.Severity, v.Resource, v.Property, v.Message)
}

// Result is the outcome of a stack's evaluation.
type Result struct {
	// Violations are the failed checks no waiver covers.
	Violations []Violation
	// Waived are the failed checks a waiver covers, by control id.
	Waived map[string][]Violation
	// Unused are waivers of controls that found nothing to waive.
	Unused []string
}

// Controls returns the catalog in id order.
func Controls() []Control {
	out := append([]Control(nil), catalog...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Evaluate runs every control that applies to the stack. waivers maps control ids to reasons; an
// unknown id is an error, so a typo cannot silently waive nothing.
func Evaluate(s *Stack, waivers map[string]string) (Result, error) {
	var unknown []string
	for id := range waivers {
		if !controlid.Known(id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Result{}, fmt.Errorf("policy waivers name unknown controls: %s", strings.Join(unknown, ", "))
	}
	res := Result{Waived: map[string][]Violation{}}
	for _, c := range Controls() {
		if c.ProductionOnly && !s.Production {
			continue
		}
		var found []Violation
		c.Check(s, func(r *Resource, property, format string, args ...any) {
			found = append(found, Violation{
				Control: c.ID, Severity: c.Severity, Resource: r.Type + " " + r.Name,
				Property: property, Message: fmt.Sprintf(format, args...),
			})
		})
		if _, waived := waivers[c.ID]; waived && len(found) > 0 {
			res.Waived[c.ID] = found
			continue
		}
		res.Violations = append(res.Violations, found...)
	}
	for id := range waivers {
		if _, used := res.Waived[id]; !used {
			res.Unused = append(res.Unused, id)
		}
	}
	sort.Strings(res.Unused)
	return res, nil
}

// boolControl is a control that one boolean input of every resource of a type must have as want.
func boolControl(id, title string, severity Severity, prodOnly bool, typ, property string, want bool, satisfied string) Control {
	return Control{
		ID: id, Title: title, Severity: severity, ProductionOnly: prodOnly, Satisfied: satisfied,
		Check: func(s *Stack, report Reporter) {
			for _, r := range s.OfType(typ) {
				if r.Bool(property) != want {
					report(r, property, "is not %v", want)
				}
			}
		},
	}
}
