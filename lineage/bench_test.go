package lineage_test

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/agentmv/agentmv/lineage"
)

// benchView is a realistic 40-line view body: CTEs, joins, aggregates, a window, CASE, a
// correlated subquery and comments.
const benchView = `WITH paid AS ( -- revenue per customer and month, with rank and last order
    SELECT o.id, o.user_id, o.total, o.created_at
      FROM public.orders o
     WHERE o.status = 'paid'
       AND o.created_at >= date_trunc('year', now()) - interval '2 years'
),
items AS (
    SELECT i.order_id, sum(i.qty * i.price) AS items_total, count(*) AS n_items
      FROM public.order_items i
      JOIN public.products p ON p.id = i.product_id
     WHERE p.price > 0
     GROUP BY i.order_id
),
monthly AS (
    SELECT p.user_id,
           date_trunc('month', p.created_at)::date AS month,
           sum(p.total) AS revenue,
           sum(coalesce(it.items_total, 0)) AS items_revenue,
           count(DISTINCT p.id) AS orders
      FROM paid p
      LEFT JOIN items it ON it.order_id = p.id
     GROUP BY p.user_id, date_trunc('month', p.created_at)
)
SELECT u.id AS user_id,
       lower(u.email) AS email,
       m.month,
       m.revenue,
       m.items_revenue,
       m.orders,
       CASE WHEN m.revenue >= 10000 THEN 'gold'
            WHEN m.revenue >= 1000 THEN 'silver'
            ELSE 'bronze' END AS tier,
       rank() OVER (PARTITION BY m.month ORDER BY m.revenue DESC) AS month_rank,
       (SELECT max(o2.created_at) FROM public.orders o2 WHERE o2.user_id = u.id) AS last_order_at,
       r.total AS lifetime_total
  FROM monthly m
  JOIN public.users u ON u.id = m.user_id
  LEFT JOIN agent_mv.customer_rollup r ON r.user_id = u.id
 WHERE u.email NOT LIKE '%@example.com'
   AND EXISTS (SELECT 1 FROM public.accounts a WHERE a.user_id = u.id AND a.balance >= 0)
`

var benchCatalog = lineage.StaticResolver{
	SearchPath: []string{"public"},
	Relations: map[string]lineage.Resolved{
		"public.users":             {Kind: "r", Columns: []string{"id", "name", "email", "created_at"}},
		"public.orders":            {Kind: "p", Columns: []string{"id", "user_id", "total", "status", "created_at"}},
		"public.order_items":       {Kind: "r", Columns: []string{"order_id", "product_id", "qty", "price"}},
		"public.products":          {Kind: "r", Columns: []string{"id", "name", "price"}},
		"public.accounts":          {Kind: "r", Columns: []string{"id", "user_id", "balance"}},
		"agent_mv.customer_rollup": {Kind: "m", Columns: []string{"user_id", "orders", "total"}},
	},
}

func benchOptions() lineage.Options {
	return lineage.Options{
		TargetSchema: "agent_mv",
		Managed:      func(name string) bool { return name == "customer_rollup" },
		Resolver:     benchCatalog,
	}
}

// TestBenchView keeps the benchmark honest: the view parses and its lineage is the expected one.
func TestBenchView(t *testing.T) {
	if n := strings.Count(strings.TrimSpace(benchView), "\n") + 1; n != 40 {
		t.Errorf("benchmark view has %d lines, want 40", n)
	}
	a, err := lineage.Analyze(context.Background(), benchView, benchOptions())
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for _, tb := range a.Tables {
		tables = append(tables, tb.String())
	}
	if got, want := strings.Join(tables, " "), "public.accounts public.order_items public.orders public.products public.users"; got != want {
		t.Errorf("tables = %s, want %s", got, want)
	}
	if got := strings.Join(a.Views, " "); got != "customer_rollup" {
		t.Errorf("views = %s, want customer_rollup", got)
	}
	want := "user_id email month revenue items_revenue orders tier month_rank last_order_at lifetime_total"
	if got := strings.Join(a.OutputColumns, " "); got != want {
		t.Errorf("output columns = %s, want %s", got, want)
	}
	has := func(view, src string) bool {
		for _, c := range a.Columns {
			if c.ViewColumn == view && c.SourceSchema+"."+c.SourceRelation+"."+c.SourceColumn == src {
				return true
			}
		}
		return false
	}
	for _, e := range [][2]string{
		{"user_id", "public.users.id"},
		{"email", "public.users.email"},
		{"month", "public.orders.created_at"},
		{"revenue", "public.orders.total"},
		{"items_revenue", "public.order_items.qty"},
		{"items_revenue", "public.order_items.price"},
		{"orders", "public.orders.id"},
		{"tier", "public.orders.total"},
		{"last_order_at", "public.orders.created_at"},
		{"lifetime_total", "agent_mv.customer_rollup.total"},
	} {
		if !has(e[0], e[1]) {
			t.Errorf("missing column edge %s <- %s in %v", e[0], e[1], a.Columns)
		}
	}
}

// cpuTime is the process's user+system CPU time. The benchmarks report views per CPU-second
// next to views per wall-second: on a shared machine the wall figure mostly measures the
// neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportViews(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "views/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "views/cpu-s")
	}
}

// BenchmarkParseLineage measures parse + validation + table and column lineage (Analyze with a
// static catalog, which includes pg_query's Deparse for the hash) of a 40-line view, in views
// per second. Goal: >= 5,000 views/s.
func BenchmarkParseLineage(b *testing.B) {
	ctx := context.Background()
	opts := benchOptions()
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := lineage.Analyze(ctx, benchView, opts); err != nil {
			b.Fatal(err)
		}
	}
	reportViews(b, cpu0)
}

// BenchmarkParseOnly is Parse alone: pg_query's parse, validation and the relation walk.
func BenchmarkParseOnly(b *testing.B) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := lineage.Parse(benchView); err != nil {
			b.Fatal(err)
		}
	}
	reportViews(b, cpu0)
}

// BenchmarkPgQueryFloor is what pg_query itself costs for the same view (Parse + Deparse, no
// lineage): the ceiling for BenchmarkParseLineage.
func BenchmarkPgQueryFloor(b *testing.B) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		tree, err := pg_query.Parse(benchView)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pg_query.Deparse(tree); err != nil {
			b.Fatal(err)
		}
	}
	reportViews(b, cpu0)
}

// BenchmarkLineageVsFloor times the full analysis (Analyze: parse, validation, scoped walk,
// column lineage, canonical hash, round-trip check) and pg_query's own Parse + Deparse of the
// same 40-line view back to back, alternating which goes first, and reports the median of
// the per-pair throughput ratios (floor time ÷ analysis time): 1 would be lineage for free.
// Goal ≥ 0.8.
func BenchmarkLineageVsFloor(b *testing.B) {
	ctx := context.Background()
	opts := benchOptions()
	analyze := func() {
		if _, err := lineage.Analyze(ctx, benchView, opts); err != nil {
			b.Fatal(err)
		}
	}
	floor := func() {
		tree, err := pg_query.Parse(benchView)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pg_query.Deparse(tree); err != nil {
			b.Fatal(err)
		}
	}
	timed := func(f func()) time.Duration {
		t0 := time.Now()
		f()
		return time.Since(t0)
	}
	for range 20 {
		analyze()
		floor()
	}
	var ratios, at, ft []float64
	i := 0
	for b.Loop() {
		var a, f time.Duration
		if i%2 == 0 {
			a, f = timed(analyze), timed(floor)
		} else {
			f, a = timed(floor), timed(analyze)
		}
		i++
		ratios = append(ratios, float64(f)/float64(a))
		at = append(at, float64(a)/float64(time.Microsecond))
		ft = append(ft, float64(f)/float64(time.Microsecond))
	}
	b.ReportMetric(median(ratios), "lineage/floor")
	b.ReportMetric(median(at), "lineage-µs/op")
	b.ReportMetric(median(ft), "floor-µs/op")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
