package scheduler

import (
	"sort"
	"time"

	"github.com/agentmv/agentmv/lineage"
)

// viewInfo is what one tick knows about a managed view (read from the database).
type viewInfo struct {
	name      string
	upstream  []string
	every     time.Duration // refresh_every; 0 when the view has no schedule of its own
	populated bool
	running   bool // some session holds its refresh lock right now

	lastStatus  string     // success | failed: the newest finished refresh
	lastStarted *time.Time // its started_at
	lastFinish  *time.Time // its finished_at
	lastSuccess *time.Time // finished_at of the newest successful refresh
	dataAsOf    *time.Time // oldest lastSuccess among the view and its upstream views
}

// dueAt is when v's data reaches its refresh_every; zero when it is due already (never
// refreshed, or unpopulated). Only meaningful when every > 0.
func (v viewInfo) dueAt() time.Time {
	if !v.populated || v.dataAsOf == nil {
		return time.Time{}
	}
	return v.dataAsOf.Add(v.every)
}

// stale reports whether x's own contents are at least every old (or missing): refreshing x is
// part of making a view with that refresh_every fresh again.
func (x viewInfo) stale(now time.Time, every time.Duration) bool {
	return !x.populated || x.lastSuccess == nil || !now.Before(x.lastSuccess.Add(every))
}

// batch is what one tick decides to refresh.
type batch struct {
	// views to refresh, in no particular order (the run orders them by the DAG): the roots
	// and every view downstream of them that is not held back.
	views []string
	// roots are views refreshed because their own contents are too old; after[root] is the
	// start of their newest finished refresh when the tick looked (zero: none). A root is
	// refreshed only if no refresh of it started after that meanwhile (the claim).
	after map[string]time.Time
	// wake is the next time something may become due (zero: nothing scheduled).
	wake time.Time
}

// planBatch decides, at database time now, which views to refresh:
//
//   - a view with refresh_every is due when its data (data_as_of, which follows its upstream
//     views) is at least that old, or it is unpopulated or never refreshed;
//   - for a due view, the views whose own contents are that old (itself and/or upstream
//     views) are refreshed: the roots. A root being refreshed by some session right now is
//     left to it;
//   - every view downstream of a root is brought along, scheduled or not;
//   - held back: views in backoff (retryAt after now) and everything downstream of them (a
//     failed view's descendants wait), and views a batch of this process is still refreshing
//     (inFlight) with their descendants.
func planBatch(now time.Time, views map[string]viewInfo, g *lineage.Graph, retryAt map[string]time.Time, inFlight map[string]bool) batch {
	held := map[string]bool{}
	hold := func(v string) {
		held[v] = true
		for _, d := range g.Descendants(v) {
			held[d] = true
		}
	}
	b := batch{after: map[string]time.Time{}}
	wake := func(t time.Time) {
		if t.After(now) && (b.wake.IsZero() || t.Before(b.wake)) {
			b.wake = t
		}
	}
	for v, t := range retryAt {
		if t.After(now) {
			hold(v)
			wake(t)
		}
	}
	for v := range inFlight {
		hold(v)
	}
	roots := map[string]bool{}
	for _, name := range g.Nodes() {
		v := views[name]
		if v.every <= 0 || held[name] {
			continue // no schedule; or waiting for a failed upstream view, or in a running batch
		}
		if due := v.dueAt(); due.After(now) {
			wake(due)
			continue
		}
		for _, x := range append(g.Ancestors(name), name) {
			xi := views[x]
			if xi.stale(now, v.every) && !xi.running && !held[x] {
				roots[x] = true
			}
		}
	}
	selected := map[string]bool{}
	for r := range roots {
		selected[r] = true
		var after time.Time
		if x := views[r]; x.lastStarted != nil {
			after = *x.lastStarted
		}
		b.after[r] = after
		for _, d := range g.Descendants(r) {
			if !held[d] {
				selected[d] = true
			}
		}
	}
	for v := range selected {
		b.views = append(b.views, v)
	}
	sort.Strings(b.views)
	return b
}

// backoff is the wait after the n-th consecutive failure (n ≥ 1): base·2^(n-1), at most max.
func backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// failures tracks, per view, the consecutive failed refreshes this process has seen in the
// history (whoever ran them) and when the view may be tried again. Anchoring the wait on the
// failure's finished_at (database time) makes every process agree on it.
type failures struct {
	base, max time.Duration
	views     map[string]*failureState
	// unrecorded counts failures that left no history row (the refresh could not start or
	// commit); their backoff is anchored on the database clock at the next tick.
	unrecorded map[string]*failureState
}

type failureState struct {
	count   int
	seen    time.Time // finished_at of the newest failure counted
	retryAt time.Time
}

// observe updates the failure streaks from one tick's view of the history, at database time
// now.
func (f *failures) observe(now time.Time, views map[string]viewInfo) {
	for name := range f.views {
		if _, ok := views[name]; !ok {
			delete(f.views, name)
		}
	}
	for name, st := range f.unrecorded {
		if _, ok := views[name]; !ok {
			delete(f.unrecorded, name)
		} else if st.retryAt.IsZero() {
			st.retryAt = now.Add(backoff(st.count, f.base, f.max))
		}
	}
	for name, v := range views {
		switch {
		case v.lastStatus == "failed" && v.lastFinish != nil:
			st := f.views[name]
			if st == nil {
				st = &failureState{}
				f.views[name] = st
			}
			if !st.seen.Equal(*v.lastFinish) {
				st.count++
				st.seen = *v.lastFinish
				st.retryAt = st.seen.Add(backoff(st.count, f.base, f.max))
			}
		case v.lastStatus != "":
			delete(f.views, name)
		}
	}
}

// retryAt returns when each failing view may be tried again.
func (f *failures) retryAt() map[string]time.Time {
	out := map[string]time.Time{}
	for name, st := range f.views {
		out[name] = st.retryAt
	}
	for name, st := range f.unrecorded {
		if !st.retryAt.IsZero() && st.retryAt.After(out[name]) {
			out[name] = st.retryAt
		}
	}
	return out
}

// failedUnrecorded counts a failure of view that left no history row; the next observe
// anchors its backoff.
func (f *failures) failedUnrecorded(view string) {
	st := f.unrecorded[view]
	if st == nil {
		st = &failureState{}
		f.unrecorded[view] = st
	}
	st.count++
	st.retryAt = time.Time{}
}

// clearUnrecorded ends view's streak of unrecorded failures (a refresh ran, or another
// session did it).
func (f *failures) clearUnrecorded(view string) { delete(f.unrecorded, view) }
