package refresh

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

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
}

// Event is one progress line of RefreshAll.
type Event struct {
	View    string
	Wave    int // dependency depth within the run, from 1
	Started bool
	Result  *Result // set when the view ended
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
	views := pgx.Identifier{c.Schema, "views"}.Sanitize()
	lineage := pgx.Identifier{c.Schema, "lineage"}.Sanitize()
	rows, err := c.DB.Query(ctx, `SELECT v.name,
	       coalesce(array_agg(l.source_name ORDER BY l.source_name)
	                FILTER (WHERE l.source_name IS NOT NULL), '{}')
	  FROM `+views+` v
	  LEFT JOIN `+lineage+` l ON l.view_name = v.name AND l.source_kind = 'view'
	 GROUP BY v.name ORDER BY v.name`)
	if err != nil {
		return Graph{}, fmt.Errorf("read managed views from %s: %w (run `agent-mv apply` first)", c.Schema, err)
	}
	g := Graph{Upstream: map[string][]string{}}
	var name string
	var ups []string
	_, err = pgx.ForEachRow(rows, []any{&name, &ups}, func() error {
		g.Upstream[name] = append([]string(nil), ups...)
		return nil
	})
	if err != nil {
		return Graph{}, fmt.Errorf("read managed views from %s: %w", c.Schema, err)
	}
	return g, nil
}

// plan restricts the graph to the selected views and computes each view's depth (wave).
func (g Graph) plan(opts AllOptions) (upstream map[string][]string, depth map[string]int, err error) {
	selected := map[string]bool{}
	for v := range g.Upstream {
		selected[v] = true
	}
	if opts.Downstream != "" {
		if _, ok := g.Upstream[opts.Downstream]; !ok {
			return nil, nil, fmt.Errorf("--downstream %s: %w", opts.Downstream, ErrUnknownView)
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
				return nil, nil, fmt.Errorf("--select %s: %w", s, ErrUnknownView)
			}
			if selected[s] {
				only[s] = true
			}
		}
		selected = only
	}
	upstream = map[string][]string{}
	for v := range selected {
		for _, u := range g.Upstream[v] {
			if selected[u] {
				upstream[v] = append(upstream[v], u)
			}
		}
		if upstream[v] == nil {
			upstream[v] = []string{}
		}
	}
	// Depth is the Kahn wave (1-based) in the selected subgraph; a cycle is a
	// *lineage.CycleError with the full path.
	waves, err := lineage.NewGraph(upstream).Waves()
	if err != nil {
		return nil, nil, err
	}
	depth = map[string]int{}
	for i, wave := range waves {
		for _, v := range wave {
			depth[v] = i + 1
		}
	}
	return upstream, depth, nil
}

// defaultParallel is the width of the widest wave, capped at 4.
func defaultParallel(depth map[string]int) int {
	width := map[int]int{}
	best := 1
	for _, d := range depth {
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

// RefreshGraph is RefreshAll over a graph the caller already has.
func (c *Client) RefreshGraph(ctx context.Context, g Graph, opts AllOptions) (Summary, error) {
	start := time.Now()
	upstream, depth, err := g.plan(opts)
	if err != nil {
		return Summary{}, err
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = defaultParallel(depth)
	}
	sum := Summary{Parallel: parallel}
	if len(upstream) == 0 {
		return sum, nil
	}
	downstream := map[string][]string{}
	pending := map[string]int{}
	for v, ups := range upstream {
		pending[v] = len(ups)
		for _, u := range ups {
			downstream[u] = append(downstream[u], v)
		}
	}
	for _, ds := range downstream {
		sort.Strings(ds)
	}

	var (
		mu       sync.Mutex
		ready    = readyQueue{depth: depth}
		running  int
		done     = make(chan Result)
		progress = func(e Event) {
			if opts.Progress != nil {
				mu.Lock()
				defer mu.Unlock()
				opts.Progress(e)
			}
		}
	)
	for v, n := range pending {
		if n == 0 {
			ready.push(v)
		}
	}
	remaining := len(upstream)
	var skip func(v, cause string)
	skip = func(v, cause string) {
		if pending[v] < 0 {
			return
		}
		pending[v] = -1
		remaining--
		r := Result{View: v, Status: StatusSkipped, Error: "skipped: " + cause}
		sum.Results = append(sum.Results, r)
		sum.Skipped++
		progress(Event{View: v, Wave: depth[v], Result: &r, Elapsed: time.Since(start)})
		for _, d := range downstream[v] {
			skip(d, cause)
		}
	}
	for remaining > 0 {
		for running < parallel && ready.len() > 0 {
			v := ready.pop()
			if err := ctx.Err(); err != nil {
				skip(v, "run canceled: "+context.Cause(ctx).Error())
				continue
			}
			running++
			progress(Event{View: v, Wave: depth[v], Started: true, Elapsed: time.Since(start)})
			go func(v string) {
				res, err := c.Refresh(ctx, v)
				if err != nil && res.Status != StatusFailed {
					res.Status = StatusFailed
					res.Error = err.Error()
				}
				done <- res
			}(v)
		}
		if running == 0 {
			// Nothing running and nothing ready: only possible if the plan was inconsistent.
			for _, v := range slices.Sorted(maps.Keys(pending)) {
				if pending[v] > 0 {
					skip(v, "upstream never completed")
				}
			}
			break
		}
		res := <-done
		running--
		remaining--
		pending[res.View] = -1
		sum.Results = append(sum.Results, res)
		progress(Event{View: res.View, Wave: depth[res.View], Result: &res, Elapsed: time.Since(start)})
		switch res.Status {
		case StatusFailed:
			sum.Failed++
			for _, d := range downstream[res.View] {
				skip(d, fmt.Sprintf("upstream view %s failed", res.View))
			}
			continue
		case StatusBusy:
			sum.Busy++
		case StatusFresh:
			sum.Fresh++
		default:
			sum.Succeeded++
		}
		for _, d := range downstream[res.View] {
			if pending[d] > 0 {
				pending[d]--
				if pending[d] == 0 {
					ready.push(d)
				}
			}
		}
	}
	sum.Elapsed = time.Since(start)
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
