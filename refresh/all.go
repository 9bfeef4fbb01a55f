package refresh

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/lineage"
)

// AllOptions select and pace a RefreshAll run.
type AllOptions struct {
	// Parallel bounds how many refreshes run at once. Zero means the number of independent
	// branches of the selected DAG (its widest level), capped at 4.
	Parallel int
	// Select limits the run to these views (their upstream views are not refreshed).
	Select []string
	// Downstream, when set, limits the run to this view and every view that depends on it.
	Downstream string
	// Progress, when set, is called (from several goroutines, serialised) as views start and end.
	Progress func(Event)
	// RefreshView, when set, refreshes one view instead of Client.Refresh. upstream holds the
	// results of the view's upstream views in this run (all with valid contents: success,
	// fresh or busy). The scheduler uses it to refresh a view only if nobody else already has.
	RefreshView func(ctx context.Context, view string, upstream []Result) (Result, error)
}

// Event is one progress line of RefreshAll.
type Event struct {
	View    string
	Wave    int // dependency depth within the run, from 1
	Started bool
	Result  *Result // set when the view ended
	// Wait is set, about once a second, while a view's refresh has run longer than a second
	// (what it waits for; see Client.Watch). Not sent when RefreshView is set.
	Wait    *Wait
	Elapsed time.Duration
}

// Summary is the outcome of a RefreshAll run.
type Summary struct {
	Results   []Result      `json:"results"` // in completion order
	Succeeded int           `json:"succeeded"`
	Failed    int           `json:"failed"`
	Skipped   int           `json:"skipped"`
	Busy      int           `json:"busy"`
	Fresh     int           `json:"fresh"`
	Parallel  int           `json:"parallel"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// OK reports whether nothing failed or was skipped.
func (s Summary) OK() bool { return s.Failed == 0 && s.Skipped == 0 }

// ErrRunFailed is returned by RefreshAll when at least one view failed or was skipped.
var ErrRunFailed = errors.New("refresh-all: some views failed")

// Graph is the dependency graph of the managed views: Upstream[v] lists the managed views v
// reads. Every managed view is a key.
type Graph struct {
	Upstream map[string][]string
}

// LoadGraph reads the managed views and their view-on-view dependencies from the registry
// and lineage tables (what apply recorded, not the SQL files on disk).
func (c *Client) LoadGraph(ctx context.Context) (Graph, error) {
	n, err := c.names()
	if err != nil {
		return Graph{}, err
	}
	g, err := boundary.ReadGraph(ctx, c.DB, n)
	if err != nil {
		return Graph{}, withApplyHint(err, "run `agent-mv apply` first")
	}
	return Graph{Upstream: g}, nil
}

// runPlan is a graph restricted to the views of one run: who waits for whom and each view's
// depth (its Kahn wave, from 1), which orders the ready queue and labels progress events.
type runPlan struct {
	upstream   map[string][]string // view -> upstream views in this run
	downstream map[string][]string // view -> views of this run that read it, sorted
	depth      map[string]int
}

// plan restricts the graph to the selected views and computes each view's depth (wave).
func (g Graph) plan(opts AllOptions) (runPlan, error) {
	selected, err := g.selection(opts)
	if err != nil {
		return runPlan{}, err
	}
	p := runPlan{upstream: map[string][]string{}, downstream: map[string][]string{}, depth: map[string]int{}}
	for v := range selected {
		p.upstream[v] = []string{}
		for _, u := range g.Upstream[v] {
			if selected[u] {
				p.upstream[v] = append(p.upstream[v], u)
				p.downstream[u] = append(p.downstream[u], v)
			}
		}
	}
	for _, ds := range p.downstream {
		sort.Strings(ds)
	}
	// A cycle is a *lineage.CycleError with the full path.
	waves, err := lineage.NewGraph(p.upstream).Waves()
	if err != nil {
		return runPlan{}, err
	}
	for i, wave := range waves {
		for _, v := range wave {
			p.depth[v] = i + 1
		}
	}
	return p, nil
}

// selection is the set of views a run covers: all of them, or what --downstream and --select
// leave.
func (g Graph) selection(opts AllOptions) (map[string]bool, error) {
	selected := map[string]bool{}
	for v := range g.Upstream {
		selected[v] = true
	}
	if opts.Downstream != "" {
		if _, ok := g.Upstream[opts.Downstream]; !ok {
			return nil, fmt.Errorf("--downstream %s: %w", opts.Downstream, ErrUnknownView)
		}
		selected = map[string]bool{opts.Downstream: true}
		for _, d := range lineage.NewGraph(g.Upstream).Descendants(opts.Downstream) {
			selected[d] = true
		}
	}
	if len(opts.Select) > 0 {
		only := map[string]bool{}
		for _, s := range opts.Select {
			if _, ok := g.Upstream[s]; !ok {
				return nil, fmt.Errorf("--select %s: %w", s, ErrUnknownView)
			}
			if selected[s] {
				only[s] = true
			}
		}
		selected = only
	}
	return selected, nil
}

// defaultParallel is the width of the widest wave, capped at 4.
func (p runPlan) defaultParallel() int {
	width := map[int]int{}
	best := 1
	for _, d := range p.depth {
		width[d]++
		if width[d] > best {
			best = width[d]
		}
	}
	return min(best, 4)
}

// RefreshAll refreshes every managed view (or the selection) in dependency order with a
// bounded worker pool. A view starts as soon as all its upstream views in this run succeeded
// (or were fresh/busy: their contents are valid); descendants of a failed view are skipped
// with the cause, and unrelated branches go on. It returns ErrRunFailed (wrapped) when
// anything failed or was skipped, together with the full summary.
func (c *Client) RefreshAll(ctx context.Context, opts AllOptions) (Summary, error) {
	g, err := c.LoadGraph(ctx)
	if err != nil {
		return Summary{}, err
	}
	return c.RefreshGraph(ctx, g, opts)
}

// RefreshGraph is RefreshAll over a graph the caller already has: plan the run, execute it,
// summarise it.
func (c *Client) RefreshGraph(ctx context.Context, g Graph, opts AllOptions) (Summary, error) {
	p, err := g.plan(opts)
	if err != nil {
		return Summary{}, err
	}
	r := newRun(c, p, opts)
	r.execute(ctx)
	return r.summary()
}
