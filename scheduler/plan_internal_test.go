package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentmv/agentmv/lineage"
)

// TestPlanBatch: due views, roots among upstream views, descendants brought along, backoff
// and in-flight views held back with their descendants, and the next wake-up.
func TestPlanBatch(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	// base -> mid -> leaf, and lone. Times are relative to now = t0.
	deps := map[string][]string{"base": nil, "mid": {"base"}, "leaf": {"mid"}, "lone": nil}
	g := lineage.NewGraph(deps)
	fresh := func(name string, every time.Duration, success time.Duration) viewInfo {
		return viewInfo{name: name, every: every, populated: true, lastStatus: "success",
			lastStarted: at(success - time.Second), lastFinish: at(success), lastSuccess: at(success), dataAsOf: at(success)}
	}
	tests := []struct {
		name     string
		views    map[string]viewInfo
		retryAt  map[string]time.Time
		inFlight map[string]bool
		want     []string
		roots    []string
		wake     time.Duration // relative to t0; 0 = none
	}{
		{
			name: "nothing due: wake at the earliest due time",
			views: map[string]viewInfo{
				"base": fresh("base", 10*time.Second, -5*time.Second), "mid": fresh("mid", 0, -4*time.Second),
				"leaf": fresh("leaf", 0, -4*time.Second), "lone": fresh("lone", time.Minute, -10*time.Second)},
			wake: 5 * time.Second,
		},
		{
			name: "due root brings its descendants along",
			views: map[string]viewInfo{
				"base": fresh("base", 10*time.Second, -10*time.Second), "mid": fresh("mid", 0, -9*time.Second),
				"leaf": fresh("leaf", 0, -9*time.Second), "lone": fresh("lone", time.Minute, -10*time.Second)},
			want: []string{"base", "leaf", "mid"}, roots: []string{"base"}, wake: 50 * time.Second,
		},
		{
			name: "a due leaf whose data is old because of its upstream refreshes the upstream",
			views: map[string]viewInfo{
				"base": fresh("base", 0, -time.Hour), "mid": fresh("mid", 0, -2*time.Second),
				"leaf": withDataAsOf(fresh("leaf", 30*time.Second, -2*time.Second), at(-time.Hour)),
				"lone": fresh("lone", 0, -time.Hour)},
			want: []string{"base", "leaf", "mid"}, roots: []string{"base"},
		},
		{
			name: "never refreshed is due",
			views: map[string]viewInfo{
				"base": fresh("base", 0, -time.Second), "mid": fresh("mid", 0, -time.Second), "leaf": fresh("leaf", 0, -time.Second),
				"lone": {name: "lone", every: time.Hour, populated: true}},
			want: []string{"lone"}, roots: []string{"lone"},
		},
		{
			name: "a failing view in backoff holds back its descendants; others go on",
			views: map[string]viewInfo{
				"base": fresh("base", 0, -100*time.Millisecond), "mid": fresh("mid", time.Second, -time.Minute),
				"leaf": fresh("leaf", time.Second, -time.Minute), "lone": fresh("lone", time.Second, -time.Minute)},
			retryAt: map[string]time.Time{"mid": t0.Add(3 * time.Second)},
			want:    []string{"lone"}, roots: []string{"lone"}, wake: 3 * time.Second,
		},
		{
			name: "backoff over: the view is tried again",
			views: map[string]viewInfo{
				"base": fresh("base", 0, -100*time.Millisecond), "mid": fresh("mid", time.Second, -time.Minute),
				"leaf": fresh("leaf", 0, -time.Minute), "lone": fresh("lone", 0, -time.Minute)},
			retryAt: map[string]time.Time{"mid": t0.Add(-time.Millisecond)},
			want:    []string{"leaf", "mid"}, roots: []string{"mid"},
		},
		{
			name: "views of a running batch and their descendants are left to it",
			views: map[string]viewInfo{
				"base": fresh("base", time.Second, -time.Minute), "mid": fresh("mid", 0, -time.Minute),
				"leaf": fresh("leaf", 0, -time.Minute), "lone": fresh("lone", time.Second, -time.Minute)},
			inFlight: map[string]bool{"base": true},
			want:     []string{"lone"}, roots: []string{"lone"},
		},
		{
			name: "a root some session is refreshing right now is left to it",
			views: map[string]viewInfo{
				"base": withRunning(fresh("base", time.Second, -time.Minute)), "mid": fresh("mid", 0, -time.Minute),
				"leaf": fresh("leaf", 0, -time.Minute), "lone": fresh("lone", 0, -time.Minute)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := planBatch(t0, tt.views, g, tt.retryAt, tt.inFlight)
			if d := cmp.Diff(tt.want, b.views); d != "" {
				t.Errorf("views (-want +got):\n%s", d)
			}
			var roots []string
			for _, v := range g.Nodes() {
				if _, ok := b.after[v]; ok {
					roots = append(roots, v)
					var want time.Time // zero: never refreshed
					if ls := tt.views[v].lastStarted; ls != nil {
						want = *ls
					}
					if !b.after[v].Equal(want) {
						t.Errorf("after[%s] = %s, want its last start %s", v, b.after[v], want)
					}
				}
			}
			if d := cmp.Diff(tt.roots, roots); d != "" {
				t.Errorf("roots (-want +got):\n%s", d)
			}
			var wake time.Duration
			if !b.wake.IsZero() {
				wake = b.wake.Sub(t0)
			}
			if wake != tt.wake {
				t.Errorf("wake = %s, want %s", wake, tt.wake)
			}
		})
	}
}

func withDataAsOf(v viewInfo, t *time.Time) viewInfo { v.dataAsOf = t; return v }
func withRunning(v viewInfo) viewInfo                { v.running = true; return v }

// TestBackoffAndFailures: the wait doubles per consecutive failure up to the cap, is anchored
// on the failure's finish (database time), counts each failure once however often it is seen,
// and a success clears it.
func TestBackoffAndFailures(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 30 * time.Second, 60: 30 * time.Second} {
		if got := backoff(n, time.Second, 30*time.Second); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
	f := failures{base: time.Second, max: time.Minute, views: map[string]*failureState{}, unrecorded: map[string]*failureState{}}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fail := func(at time.Time) map[string]viewInfo {
		return map[string]viewInfo{"v": {name: "v", lastStatus: "failed", lastFinish: &at}}
	}
	f.observe(t0, fail(t0))
	f.observe(t0, fail(t0)) // the same failure seen by the next tick
	if got := f.retryAt()["v"]; !got.Equal(t0.Add(time.Second)) {
		t.Errorf("after one failure retry at %s, want +1s", got)
	}
	f.observe(t0, fail(t0.Add(5*time.Second)))
	if got := f.retryAt()["v"]; !got.Equal(t0.Add(7 * time.Second)) {
		t.Errorf("after two failures retry at %s, want +5s+2s", got)
	}
	ok := t0.Add(10 * time.Second)
	f.observe(ok, map[string]viewInfo{"v": {name: "v", lastStatus: "success", lastFinish: &ok}})
	if len(f.retryAt()) != 0 {
		t.Errorf("a success did not clear the backoff: %v", f.retryAt())
	}
}

// TestUnrecordedFailures: a failure that left no history row (the refresh could not start) is
// backed off like a recorded one, anchored on the next tick's database time, growing per
// failure, even though the history's newest refresh is a success; a refresh that ran clears it.
func TestUnrecordedFailures(t *testing.T) {
	f := failures{base: time.Second, max: time.Minute, views: map[string]*failureState{}, unrecorded: map[string]*failureState{}}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := t0.Add(-time.Hour)
	views := map[string]viewInfo{"v": {name: "v", lastStatus: "success", lastFinish: &ok}}
	f.failedUnrecorded("v")
	f.observe(t0, views)
	f.observe(t0.Add(500*time.Millisecond), views) // a later tick does not move the anchor
	if got := f.retryAt()["v"]; !got.Equal(t0.Add(time.Second)) {
		t.Errorf("after one unrecorded failure retry at %s, want %s", got, t0.Add(time.Second))
	}
	f.failedUnrecorded("v")
	f.observe(t0.Add(2*time.Second), views)
	if got := f.retryAt()["v"]; !got.Equal(t0.Add(4 * time.Second)) {
		t.Errorf("after two unrecorded failures retry at %s, want %s", got, t0.Add(4*time.Second))
	}
	f.clearUnrecorded("v")
	if len(f.retryAt()) != 0 {
		t.Errorf("a refresh that ran did not clear the backoff: %v", f.retryAt())
	}
}
