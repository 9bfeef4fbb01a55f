package refresh

import (
	"context"
	"errors"
	"strings"
	"sync"
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
			p, err := testGraph.plan(tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrUnknownView) {
					t.Fatalf("plan error = %v, want %q wrapping ErrUnknownView", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.depth, p.depth); d != "" {
				t.Errorf("depth (-want +got):\n%s", d)
			}
			if p := p.defaultParallel(); p != tt.parallel {
				t.Errorf("defaultParallel = %d, want %d", p, tt.parallel)
			}
		})
	}
}

func TestPlanCycleAndCap(t *testing.T) {
	_, err := Graph{Upstream: map[string][]string{"a": {"c"}, "b": {"a"}, "c": {"b"}}}.plan(AllOptions{})
	if err == nil || !strings.Contains(err.Error(), "cycle detected") {
		t.Fatalf("cycle: err = %v", err)
	}
	wide := Graph{Upstream: map[string][]string{}}
	for _, v := range []string{"a", "b", "c", "d", "e", "f"} {
		wide.Upstream[v] = nil
	}
	p, err := wide.plan(AllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := p.defaultParallel(); p != 4 {
		t.Errorf("defaultParallel of 6 independent views = %d, want the cap 4", p)
	}
}

// TestRunStates drives the run state machine with a RefreshView that needs no database: b
// fails, so c and d are skipped; every view gets its upstream results; the parallel bound holds.
func TestRunStates(t *testing.T) {
	var (
		mu                sync.Mutex
		inFlight, maxSeen int
		gotUpstream       = map[string][]string{}
	)
	opts := AllOptions{Parallel: 2, RefreshView: func(_ context.Context, v string, upstream []Result) (Result, error) {
		mu.Lock()
		inFlight++
		maxSeen = max(maxSeen, inFlight)
		for _, u := range upstream {
			gotUpstream[v] = append(gotUpstream[v], u.View+":"+u.Status)
		}
		mu.Unlock()
		defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		if v == "b" {
			return Result{Status: StatusFailed, Error: "boom"}, errors.New("boom")
		}
		if v == "x" {
			return Result{Status: StatusBusy}, nil
		}
		return Result{Status: StatusSuccess}, nil
	}}
	p, err := testGraph.plan(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(nil, p, opts)
	r.execute(context.Background())
	sum, err := r.summary()
	if !errors.Is(err, ErrRunFailed) {
		t.Fatalf("summary error = %v, want ErrRunFailed", err)
	}
	got := map[string]string{}
	for _, res := range sum.Results {
		got[res.View] = res.Status
	}
	want := map[string]string{"a": "success", "b": "failed", "c": "skipped", "d": "skipped", "x": "busy", "y": "success", "lone": "success"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string][]string{"b": {"a:success"}, "y": {"x:busy"}}, gotUpstream); d != "" {
		t.Errorf("upstream results handed to RefreshView (-want +got):\n%s", d)
	}
	if maxSeen > 2 || maxSeen < 1 {
		t.Errorf("%d refreshes in flight at once, want at most 2", maxSeen)
	}
	for v, n := range r.nodes {
		if n.state != stateFinished && n.state != stateSkipped {
			t.Errorf("%s ended in state %d", v, n.state)
		}
	}
	if sum.Succeeded != 3 || sum.Failed != 1 || sum.Skipped != 2 || sum.Busy != 1 {
		t.Errorf("summary %+v", sum)
	}
}
