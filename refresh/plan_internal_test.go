package refresh

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dag: a -> b -> c -> d (b fails in the DB test), x -> y, lone.
var testGraph = Graph{Upstream: map[string][]string{
	"a": {}, "b": {"a"}, "c": {"b"}, "d": {"c"}, "x": {}, "y": {"x"}, "lone": {},
}}

func TestPlan(t *testing.T) {
	tests := []struct {
		name     string
		opts     AllOptions
		depth    map[string]int
		parallel int
		err      string
	}{
		{name: "all", depth: map[string]int{"a": 1, "b": 2, "c": 3, "d": 4, "x": 1, "y": 2, "lone": 1}, parallel: 3},
		{name: "select one", opts: AllOptions{Select: []string{"c"}}, depth: map[string]int{"c": 1}, parallel: 1},
		{name: "select two, linked", opts: AllOptions{Select: []string{"a", "b"}}, depth: map[string]int{"a": 1, "b": 2}, parallel: 1},
		{name: "downstream", opts: AllOptions{Downstream: "b"}, depth: map[string]int{"b": 1, "c": 2, "d": 3}, parallel: 1},
		{name: "downstream and select", opts: AllOptions{Downstream: "x", Select: []string{"y", "a"}}, depth: map[string]int{"y": 1}, parallel: 1},
		{name: "unknown select", opts: AllOptions{Select: []string{"nope"}}, err: "--select nope: unknown materialized view"},
		{name: "unknown downstream", opts: AllOptions{Downstream: "nope"}, err: "--downstream nope: unknown materialized view"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, depth, err := testGraph.plan(tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrUnknownView) {
					t.Fatalf("plan error = %v, want %q wrapping ErrUnknownView", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.depth, depth); d != "" {
				t.Errorf("depth (-want +got):\n%s", d)
			}
			if p := defaultParallel(depth); p != tt.parallel {
				t.Errorf("defaultParallel = %d, want %d", p, tt.parallel)
			}
		})
	}
}

func TestPlanCycleAndCap(t *testing.T) {
	_, _, err := Graph{Upstream: map[string][]string{"a": {"c"}, "b": {"a"}, "c": {"b"}}}.plan(AllOptions{})
	if err == nil || !strings.Contains(err.Error(), "cycle detected") {
		t.Fatalf("cycle: err = %v", err)
	}
	wide := Graph{Upstream: map[string][]string{}}
	for _, v := range []string{"a", "b", "c", "d", "e", "f"} {
		wide.Upstream[v] = nil
	}
	_, depth, err := wide.plan(AllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := defaultParallel(depth); p != 4 {
		t.Errorf("defaultParallel of 6 independent views = %d, want the cap 4", p)
	}
}

func TestStatusSQLNeverCounts(t *testing.T) {
	q := strings.ToLower(statusQuery("agent_mv"))
	for _, bad := range []string{"count(", "count (", "pg_sleep"} {
		if strings.Contains(q, bad) {
			t.Errorf("status SQL contains %q: status must stay O(views)", bad)
		}
	}
}
