package refresh_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/agentmv/agentmv/refresh"
)

// Run with a fixed iteration count, e.g.
//
//	go test ./refresh -run '^$' -bench . -benchtime 8x
//
// Each benchmark builds its data once (b.Loop runs the body once) and reports the ratio
// against the baseline measured in the same run (median of back-to-back pairs).

const bigSQL = `CREATE TABLE public.big AS
SELECT g AS id, g % 1000 AS grp, md5(g::text) AS payload FROM generate_series(1, 400000) g;
ANALYZE public.big;`

// BenchmarkRefreshFunctionVsRaw: refresh_view as the runtime role (SECURITY DEFINER, history
// rows, advisory lock, mode choice, rows_after) ÷ a raw REFRESH MATERIALIZED VIEW by the
// superuser, on the same 400k-row view. Goal ≤ 1.05. Each iteration is refreshPairs pairs:
// a pair takes ~0.3 s, so the default -benchtime 1s ran 3 or 4, and the median of so few
// read 1.07–1.10 where 20 pairs read 1.01–1.03.
func BenchmarkRefreshFunctionVsRaw(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, bigSQL)
	f.addViews(b, view{name: "big_mv", body: "SELECT id, grp, payload FROM public.big", tables: []string{"public.big"}})
	raw := func() time.Duration {
		t0 := time.Now()
		if _, err := f.admin.Exec(ctx, "REFRESH MATERIALIZED VIEW agent_mv.big_mv"); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	fn := func() time.Duration {
		t0 := time.Now()
		res, err := f.client.Refresh(ctx, "big_mv")
		if err != nil || res.Status != refresh.StatusSuccess || res.RowsAfter == nil || *res.RowsAfter != 400000 {
			b.Fatalf("refresh: %+v %v", res, err)
		}
		return time.Since(t0)
	}
	raw() // warm both paths (buffers, plans, connections)
	fn()
	const refreshPairs = 8
	var fnTimes, rawTimes []time.Duration
	for b.Loop() {
		for range refreshPairs {
			if len(fnTimes)%2 == 0 { // alternate the order so drift does not favour one side
				fnTimes = append(fnTimes, fn())
				rawTimes = append(rawTimes, raw())
			} else {
				rawTimes = append(rawTimes, raw())
				fnTimes = append(fnTimes, fn())
			}
		}
	}
	reportPairs(b, fnTimes, rawTimes, "function-ms/op", "raw-ms/op", "function/raw")
}

// reportPairs reports the mean of each side and the median of the per-iteration ratios a/b:
// each pair ran back to back, so its ratio is robust against load from other processes that
// comes and goes (the machine is shared), where a ratio of totals is not.
func reportPairs(b *testing.B, a, base []time.Duration, aUnit, baseUnit, ratioUnit string) {
	var sumA, sumB time.Duration
	ratios := make([]float64, len(a))
	for i := range a {
		sumA += a[i]
		sumB += base[i]
		ratios[i] = float64(a[i]) / float64(base[i])
	}
	slices.Sort(ratios)
	median := ratios[len(ratios)/2]
	if len(ratios)%2 == 0 {
		median = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
	}
	b.ReportMetric(float64(sumA.Microseconds())/1000/float64(len(a)), aUnit)
	b.ReportMetric(float64(sumB.Microseconds())/1000/float64(len(base)), baseUnit)
	b.ReportMetric(median, ratioUnit)
}

// BenchmarkRefreshAllParallel: RefreshAll over two independent heavy branches (heavy view ->
// light view on it, twice) with Parallel 2 ÷ the same run with Parallel 1. Goal ≤ 0.62 (on a
// machine whose cores are not busy with other work: the ratio is bounded by the free cores).
func BenchmarkRefreshAllParallel(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, bigSQL)
	big := []string{"public.big"}
	f.addViews(b,
		view{name: "left_heavy", body: "SELECT id, grp, md5(md5(payload) || id) AS h FROM public.big", tables: big},
		view{name: "left_light", body: "SELECT grp, count(*) AS n, max(h) AS h FROM agent_mv.left_heavy GROUP BY grp", views: []string{"left_heavy"}},
		view{name: "right_heavy", body: "SELECT id, grp, md5(payload || md5(id::text)) AS h FROM public.big", tables: big},
		view{name: "right_light", body: "SELECT grp, count(*) AS n, min(h) AS h FROM agent_mv.right_heavy GROUP BY grp", views: []string{"right_heavy"}},
	)
	// Postgres itself may run each REFRESH with parallel workers (PG14+), which already uses
	// the machine's cores in a serial run. Measure with its default and with intra-query
	// parallelism off (max_parallel_workers_per_gather = 0 for the runtime role), which isolates
	// what RefreshAll's pool adds.
	for _, tc := range []struct {
		name    string
		workers string
	}{{"pg-workers=default", "DEFAULT"}, {"pg-workers=0", "0"}} {
		b.Run(tc.name, func(b *testing.B) {
			f.db.Exec(b, "ALTER ROLE "+f.n.RuntimeRole+" SET max_parallel_workers_per_gather = "+tc.workers)
			client := &refresh.Client{DB: f.runtimePool(b, 4), Schema: f.n.Schema}
			benchParallel(ctx, b, client)
		})
	}
}

func benchParallel(ctx context.Context, b *testing.B, client *refresh.Client) {
	run := func(parallel int) time.Duration {
		sum, err := client.RefreshAll(ctx, refresh.AllOptions{Parallel: parallel})
		if err != nil || sum.Succeeded != 4 {
			b.Fatalf("RefreshAll(parallel %d): %+v %v", parallel, sum, err)
		}
		return sum.Elapsed
	}
	if sum, err := client.RefreshAll(ctx, refresh.AllOptions{}); err != nil || sum.Parallel != 2 {
		b.Fatalf("default parallel for two branches = %d (%v), want 2", sum.Parallel, err)
	}
	var serial, parallel []time.Duration
	for b.Loop() {
		if len(serial)%2 == 0 {
			serial = append(serial, run(1))
			parallel = append(parallel, run(2))
		} else {
			parallel = append(parallel, run(2))
			serial = append(serial, run(1))
		}
	}
	reportPairs(b, parallel, serial, "parallel2-ms/op", "serial-ms/op", "parallel2/serial")
}

// BenchmarkRefreshFunctionOverhead: the fixed cost the function adds per call (catalog checks,
// advisory lock, mode choice, two history writes, the subtransaction), measured on a one-row
// view where the REFRESH itself costs almost nothing. Reported as the absolute difference,
// which bounds function/raw on any view size.
func BenchmarkRefreshFunctionOverhead(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, "CREATE TABLE public.one AS SELECT 1 AS id")
	f.addViews(b, view{name: "tiny", body: "SELECT id FROM public.one", tables: []string{"public.one"}})
	var fnTimes, rawTimes []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := f.client.Refresh(ctx, "tiny"); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := f.admin.Exec(ctx, "REFRESH MATERIALIZED VIEW agent_mv.tiny"); err != nil {
			b.Fatal(err)
		}
		fnTimes, rawTimes = append(fnTimes, t1.Sub(t0)), append(rawTimes, time.Since(t1))
	}
	slices.Sort(fnTimes)
	slices.Sort(rawTimes)
	fn, raw := fnTimes[len(fnTimes)/2], rawTimes[len(rawTimes)/2]
	b.ReportMetric(float64(fn.Microseconds())/1000, "function-median-ms")
	b.ReportMetric(float64(raw.Microseconds())/1000, "raw-median-ms")
	b.ReportMetric(float64((fn-raw).Microseconds())/1000, "overhead-ms")
}
