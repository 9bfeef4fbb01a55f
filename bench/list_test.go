package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/agentmv/agentmv/tools"
)

// listFixture is a project of listViewCount views that all copy the events table, applied
// on a database whose events table has rows rows (1M: big views; 1k: small ones).
type listFixture struct {
	proj *project
	reg  *tools.Registry
}

const listViewCount = 50

var bigList, smallList lazy[*listFixture]

func buildListFixture(tb testing.TB, rows int) *listFixture {
	ctx := context.Background()
	p := newProject(tb, eventsSQL(rows))
	views := make([]view, listViewCount)
	for i := range views {
		views[i] = view{name: fmt.Sprintf("copy_%02d", i), comment: fmt.Sprintf("Copy %d of the events.", i),
			sql: fmt.Sprintf("SELECT id, grp, amount, %d AS copy FROM public.events", i)}
	}
	p.writeConfig(tb, views)
	p.apply(tb)
	// The same refresh history on both sizes (a real project has some): 20 finished refreshes
	// per view, the last one successful with the view's row count.
	p.db.Exec(tb, `INSERT INTO agent_mv.refresh_history (view_name, started_at, finished_at, status, rows_after, mode)
SELECT v.name, now() - k * interval '1 hour', now() - k * interval '1 hour' + interval '2 seconds',
       CASE WHEN k % 7 = 3 THEN 'failed' ELSE 'success' END, $1, 'concurrent'
  FROM agent_mv.views AS v CROSS JOIN generate_series(1, 20) AS k`, rows)
	p.db.Exec(tb, "ANALYZE")
	reg, err := p.open(tb).RuntimeTools(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return &listFixture{proj: p, reg: reg}
}

// BenchmarkListViews: list_views over 50 views of 1M rows each ÷ the same 50 views over 1k
// rows each (in-process Registry.Call; both return the same JSON shape). Goal ≤ 1.1:
// list_views reads the catalog and the registry, never the views' rows.
func BenchmarkListViews(b *testing.B) {
	big := bigList.get(b, func(tb testing.TB) *listFixture { return buildListFixture(tb, baseRows) })
	small := smallList.get(b, func(tb testing.TB) *listFixture { return buildListFixture(tb, 1000) })
	ctx := context.Background()
	list := func(f *listFixture, rows int64) func() {
		return func() {
			text := resultText(b, f.reg.Call(ctx, tools.ToolListViews, json.RawMessage(`{}`)), nil)
			var out tools.ListViewsOutput
			if err := json.Unmarshal([]byte(text), &out); err != nil {
				b.Fatal(err)
			}
			if len(out.Views) != listViewCount || out.Views[0].RowsEstimate == nil || *out.Views[0].RowsEstimate != rows {
				b.Fatalf("list_views: %d views, first %+v; want %d views of %d rows", len(out.Views), out.Views[0], listViewCount, rows)
			}
		}
	}
	bigList, smallList := list(big, baseRows), list(small, 1000)
	for range 20 {
		bigList()
		smallList()
	}
	var p pairs
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			tb := timed(bigList)
			p.add(tb, timed(smallList))
		} else {
			ts := timed(smallList)
			p.add(timed(bigList), ts)
		}
	}
	p.report(b, "1M", "1k", "µs")
}
