package agentmv

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/tools"
)

// ToolAction is what apply does to one tool declared in materialize.yaml (`tools:`).
type ToolAction string

// The actions of a plan on tools.
const (
	ToolAdd       ToolAction = "add"       // new in materialize.yaml
	ToolChange    ToolAction = "change"    // its declaration changed (description, SQL, parameters)
	ToolRemove    ToolAction = "remove"    // no longer in materialize.yaml
	ToolUnchanged ToolAction = "unchanged" // as last applied
)

// ToolStep is the plan for one declared tool. Apply records the tools it applied (their
// declaration and its hash, tools.ToolSpec.Hash) in <S>.declared_tools; the runtime server
// serves them from materialize.yaml.
type ToolStep struct {
	Tool   string     `json:"tool"`
	Action ToolAction `json:"action"`
	Reason string     `json:"reason,omitempty"`
	// Hash is the declaration's hash after the apply (empty for removals).
	Hash string `json:"hash,omitempty"`
	// Reads are the managed views the tool reads (after the apply; as recorded for removals).
	Reads  []string `json:"reads,omitempty"`
	record boundary.ToolRecord
}

// CountTools returns how many tool steps have the action.
func (p *Plan) CountTools(a ToolAction) int {
	n := 0
	for _, s := range p.Tools {
		if s.Action == a {
			n++
		}
	}
	return n
}

// toolsChange reports whether the plan adds, changes or removes a tool.
func (p *Plan) toolsChange() bool {
	return len(p.Tools) > p.CountTools(ToolUnchanged)
}

// planTools compares the declared tools with the ones the last apply recorded.
func planTools(declared []ToolConfig, recorded []boundary.ToolRecord) []ToolStep {
	rec := map[string]boundary.ToolRecord{}
	for _, r := range recorded {
		rec[r.Name] = r
	}
	steps := map[string]ToolStep{}
	for _, tc := range declared {
		spec, _ := json.Marshal(tc.ToolSpec) // a ToolSpec always encodes (see ToolSpec.Hash)
		s := ToolStep{Tool: tc.Name, Hash: tc.Hash(), Reads: tc.Reads, record: boundary.ToolRecord{
			Name: tc.Name, Hash: tc.Hash(), Description: tc.Description, Reads: tc.Reads, Spec: spec}}
		r, ok := rec[tc.Name]
		switch {
		case !ok:
			s.Action, s.Reason = ToolAdd, "new tool"
			if len(tc.Reads) > 0 {
				s.Reason += "; reads " + strings.Join(tc.Reads, ", ")
			}
		case r.Hash != s.Hash || !slices.Equal(r.Reads, tc.Reads):
			s.Action, s.Reason = ToolChange, toolChanges(r, tc)
		default:
			s.Action = ToolUnchanged
		}
		steps[tc.Name] = s
	}
	for name, r := range rec {
		if _, ok := steps[name]; !ok {
			steps[name] = ToolStep{Tool: name, Action: ToolRemove, Reason: "removed from materialize.yaml", Reads: r.Reads, record: r}
		}
	}
	out := make([]ToolStep, 0, len(steps))
	for _, name := range slices.Sorted(maps.Keys(steps)) {
		out = append(out, steps[name])
	}
	return out
}

// toolChanges says what changed in a tool's declaration since it was recorded.
func toolChanges(r boundary.ToolRecord, tc ToolConfig) string {
	var was tools.ToolSpec
	if err := json.Unmarshal(r.Spec, &was); err != nil || was.Name == "" {
		return "declaration changed"
	}
	same := func(a, b any) bool {
		x, _ := json.Marshal(a)
		y, _ := json.Marshal(b)
		return string(x) == string(y)
	}
	var parts []string
	if was.Description != tc.Description {
		parts = append(parts, "description")
	}
	if was.SQL != tc.SQL {
		parts = append(parts, "SQL")
	}
	if !same(was.Parameters, tc.Parameters) {
		parts = append(parts, "parameters")
	}
	if len(parts) == 0 {
		if !slices.Equal(r.Reads, tc.Reads) {
			return "now reads " + strings.Join(tc.Reads, ", ")
		}
		return "declaration changed"
	}
	return strings.Join(parts, ", ") + " changed"
}

// writeTools renders the tool steps for Plan.String.
func (p *Plan) writeTools(b *strings.Builder) {
	symbol := map[ToolAction]string{ToolAdd: "+", ToolChange: "~", ToolRemove: "-", ToolUnchanged: "="}
	for _, s := range p.Tools {
		fmt.Fprintf(b, "  %s %-28s %-17s %s\n", symbol[s.Action], "tool "+s.Tool, s.Action, s.Reason)
	}
}

// toolsSummary is the plan's count of tool steps ("" when materialize.yaml declares no tools
// and none is recorded).
func (p *Plan) toolsSummary(future bool) string {
	if len(p.Tools) == 0 {
		return ""
	}
	if future {
		return fmt.Sprintf("Tools: %d to add, %d to change, %d to remove, %d unchanged.", p.CountTools(ToolAdd),
			p.CountTools(ToolChange), p.CountTools(ToolRemove), p.CountTools(ToolUnchanged))
	}
	return fmt.Sprintf("tools: %d added, %d changed, %d removed", p.CountTools(ToolAdd), p.CountTools(ToolChange), p.CountTools(ToolRemove))
}
