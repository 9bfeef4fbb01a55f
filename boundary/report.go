package boundary

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Check statuses.
const (
	CheckOK   = "ok"
	CheckFail = "fail"
	CheckWarn = "warn"
)

// Check is one line of the doctor's report.
type Check struct {
	Name    string `json:"name"`
	Status  string `json:"status"` // ok | fail | warn
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Findings are the objects behind a failed or warning check, each with its fix.
	Findings []Finding `json:"findings,omitempty"`
}

// Report is the doctor's result, in the order the checks ran.
type Report struct {
	Checks []Check `json:"checks"`
}

// OK is true when no check failed (warnings allowed).
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status == CheckFail {
			return false
		}
	}
	return true
}

// MarshalJSON adds "ok" next to the checks.
func (r Report) MarshalJSON() ([]byte, error) {
	checks := r.Checks
	if checks == nil {
		checks = []Check{}
	}
	return json.Marshal(struct {
		OK     bool    `json:"ok"`
		Checks []Check `json:"checks"`
	}{r.OK(), checks})
}

// String renders the report as the seed did: one ✓/✗/⚠ line per check, hints indented.
func (r Report) String() string {
	var b strings.Builder
	for _, c := range r.Checks {
		sym := "✓"
		switch c.Status {
		case CheckFail:
			sym = "✗"
		case CheckWarn:
			sym = "⚠"
		}
		fmt.Fprintf(&b, "%s %s\n", sym, c.Message)
		for i, f := range c.Findings {
			if i == maxFindingsShown {
				fmt.Fprintf(&b, "    … and %d more (agent-mv doctor --json lists them all)\n", len(c.Findings)-i)
				break
			}
			fmt.Fprintf(&b, "    - %s: %s\n      fix: %s\n", f.Object, f.Exposure, f.Fix)
		}
		if c.Hint != "" {
			fmt.Fprintf(&b, "    hint: %s\n", c.Hint)
		}
	}
	return b.String()
}

// maxFindingsShown caps the findings listed per check in the text report.
const maxFindingsShown = 20

func (r *Report) add(name, status, msg, hint string) {
	r.Checks = append(r.Checks, Check{Name: name, Status: status, Message: msg, Hint: hint})
}
