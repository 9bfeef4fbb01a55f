package refresh

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// viewState is where one view of a run stands. A view moves forward only:
// waiting → ready → running → finished, or waiting/ready → skipped.
type viewState uint8

const (
	stateWaiting  viewState = iota // some upstream view of the run has not finished yet
	stateReady                     // every upstream view finished with valid contents; queued
	stateRunning                   // its refresh is in flight
	stateFinished                  // ended with a result (success, fresh, busy or failed)
	stateSkipped                   // never started: an upstream view failed or the run was canceled
)

// node is the run's bookkeeping for one view.
type node struct {
	state     viewState
	waitingOn int      // upstream views of the run that have not finished
	upstream  []Result // results of its upstream views, as they finish
}

// run executes one runPlan: a ready queue ordered by (depth, name), at most parallel refreshes
// in flight, and a state per view. Only execute's goroutine touches the nodes; refresh
// goroutines report back on done.
type run struct {
	c        *Client
	plan     runPlan
	opts     AllOptions
	parallel int
	start    time.Time

	nodes   map[string]*node
	ready   readyQueue
	running int
	open    int // views neither finished nor skipped
	done    chan Result

	progressMu sync.Mutex
	sum        Summary
}

func newRun(c *Client, p runPlan, opts AllOptions) *run {
	r := &run{c: c, plan: p, opts: opts, parallel: opts.Parallel, start: time.Now(),
		nodes: map[string]*node{}, ready: readyQueue{depth: p.depth}, done: make(chan Result)}
	if r.parallel <= 0 {
		r.parallel = p.defaultParallel()
	}
	r.sum.Parallel = r.parallel
	for v, ups := range p.upstream {
		r.nodes[v] = &node{waitingOn: len(ups)}
		if len(ups) == 0 {
			r.nodes[v].state = stateReady
			r.ready.push(v)
		}
	}
	r.open = len(r.nodes)
	return r
}

// execute starts ready views while there is room, waits for one to end, records it, and
// repeats until every view is finished or skipped.
func (r *run) execute(ctx context.Context) {
	for r.open > 0 {
		r.startReady(ctx)
		if r.running == 0 {
			// Nothing running and nothing ready: only possible if the plan was inconsistent.
			r.skipAll(stateWaiting, "upstream never completed")
			return
		}
		r.finish(<-r.done)
	}
}

// startReady hands ready views to refresh goroutines up to the parallel bound. After the
// context ends nothing new starts: ready views are skipped with the cause.
func (r *run) startReady(ctx context.Context) {
	for r.running < r.parallel && r.ready.len() > 0 {
		v := r.ready.pop()
		if err := ctx.Err(); err != nil {
			r.skip(v, "run canceled: "+context.Cause(ctx).Error())
			continue
		}
		n := r.nodes[v]
		n.state = stateRunning
		r.running++
		r.progress(Event{View: v, Wave: r.plan.depth[v], Started: true, Elapsed: time.Since(r.start)})
		go func(v string, upstream []Result) {
			res, err := r.refresh(ctx, v, upstream)
			if err != nil && res.Status != StatusFailed {
				res.Status = StatusFailed
				res.Error = err.Error()
			}
			res.View = v
			r.done <- res
		}(v, slices.Clone(n.upstream))
	}
}

// refresh runs one view: opts.RefreshView when set, else Client.Refresh.
func (r *run) refresh(ctx context.Context, v string, upstream []Result) (Result, error) {
	if r.opts.RefreshView != nil {
		return r.opts.RefreshView(ctx, v, upstream)
	}
	if r.opts.Progress == nil {
		return r.c.Refresh(ctx, v)
	}
	c := *r.c
	c.Watch = func(w Wait) {
		r.progress(Event{View: v, Wave: r.plan.depth[v], Wait: &w, Elapsed: time.Since(r.start)})
	}
	return c.Refresh(ctx, v)
}

// finish records a view's result. A failure skips its descendants; any other status has left
// valid contents, so its downstream views come one step closer to ready.
func (r *run) finish(res Result) {
	r.running--
	r.open--
	r.nodes[res.View].state = stateFinished
	r.sum.Results = append(r.sum.Results, res)
	r.progress(Event{View: res.View, Wave: r.plan.depth[res.View], Result: &res, Elapsed: time.Since(r.start)})
	switch res.Status {
	case StatusFailed:
		r.sum.Failed++
		for _, d := range r.plan.downstream[res.View] {
			r.skip(d, fmt.Sprintf("upstream view %s failed", res.View))
		}
		return
	case StatusBusy:
		r.sum.Busy++
	case StatusFresh:
		r.sum.Fresh++
	default:
		r.sum.Succeeded++
	}
	for _, d := range r.plan.downstream[res.View] {
		n := r.nodes[d]
		if n.state != stateWaiting {
			continue
		}
		n.upstream = append(n.upstream, res)
		if n.waitingOn--; n.waitingOn == 0 {
			n.state = stateReady
			r.ready.push(d)
		}
	}
}

// skip marks a view that has not started, and (transitively) its downstream views, skipped.
func (r *run) skip(v, cause string) {
	n := r.nodes[v]
	if n.state != stateWaiting && n.state != stateReady {
		return
	}
	n.state = stateSkipped
	r.open--
	res := Result{View: v, Status: StatusSkipped, Error: "skipped: " + cause}
	r.sum.Results = append(r.sum.Results, res)
	r.sum.Skipped++
	r.progress(Event{View: v, Wave: r.plan.depth[v], Result: &res, Elapsed: time.Since(r.start)})
	for _, d := range r.plan.downstream[v] {
		r.skip(d, cause)
	}
}

// skipAll skips every view still in state s, in name order.
func (r *run) skipAll(s viewState, cause string) {
	names := make([]string, 0, len(r.nodes))
	for v, n := range r.nodes {
		if n.state == s {
			names = append(names, v)
		}
	}
	sort.Strings(names)
	for _, v := range names {
		r.skip(v, cause)
	}
}

// progress calls opts.Progress, serialised.
func (r *run) progress(e Event) {
	if r.opts.Progress == nil {
		return
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.opts.Progress(e)
}

// summary ends the run: elapsed time, and ErrRunFailed when anything failed or was skipped.
func (r *run) summary() (Summary, error) {
	sum := r.sum
	sum.Elapsed = time.Since(r.start)
	if !sum.OK() {
		return sum, fmt.Errorf("%w: %d succeeded, %d failed, %d skipped", ErrRunFailed, sum.Succeeded, sum.Failed, sum.Skipped)
	}
	return sum, nil
}

// readyQueue hands out ready views by (depth, name) so runs are deterministic.
type readyQueue struct {
	depth map[string]int
	items []string
}

func (q *readyQueue) len() int { return len(q.items) }
func (q *readyQueue) push(v string) {
	q.items = append(q.items, v)
	sort.Slice(q.items, func(i, j int) bool {
		a, b := q.items[i], q.items[j]
		if q.depth[a] != q.depth[b] {
			return q.depth[a] < q.depth[b]
		}
		return a < b
	})
}
func (q *readyQueue) pop() string {
	v := q.items[0]
	q.items = q.items[1:]
	return v
}
