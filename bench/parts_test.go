package bench

import (
	"context"
	"testing"
	"time"

	"github.com/agentmv/agentmv/refresh"
	"github.com/agentmv/agentmv/tools"
)

// BenchmarkQueryViewParts splits one 1-row query_view into its parts, each timed alone as the
// runtime role, to explain BenchmarkQueryView's ratio: the registry and freshness read
// (refresh.Client.Status, one query), the guard (pg_query parse, checks and deparse, via cgo),
// ExecQuery (one pipeline: BEGIN READ ONLY, set_config, Bind and Execute of the prepared
// query's portal, ROLLBACK), the raw SELECT, and a SELECT 1 round trip for scale.
func BenchmarkQueryViewParts(b *testing.B) {
	f := getQueryFixture(b)
	ctx := context.Background()
	rc := &refresh.Client{DB: f.raw, Schema: "agent_mv"}
	const sql = "SELECT id, grp, day, amount, label FROM events_mv WHERE id = 424242"
	_, deparsed, err := tools.CheckQuery(sql, "agent_mv", func(name string) bool { return name == "events_mv" })
	if err != nil {
		b.Fatal(err)
	}
	parts := []struct {
		unit string
		run  func()
		got  []time.Duration
	}{
		{unit: "status-µs", run: func() {
			if st, err := rc.Status(ctx); err != nil || len(st) != 1 {
				b.Fatalf("status: %v %v", st, err)
			}
		}},
		{unit: "guard-µs", run: func() {
			if _, _, err := tools.CheckQuery(sql, "agent_mv", func(name string) bool { return name == "events_mv" }); err != nil {
				b.Fatal(err)
			}
		}},
		{unit: "exec-µs", run: func() {
			if res, err := tools.ExecQuery(ctx, f.raw, "agent_mv", deparsed, tools.Limits{}); err != nil || res.RowCount != 1 {
				b.Fatalf("exec: %+v %v", res, err)
			}
		}},
		{unit: "raw-µs", run: func() {
			if n := rawQuery(b, f.raw, "SELECT id, grp, day, amount, label FROM agent_mv.events_mv WHERE id = 424242"); n != 1 {
				b.Fatalf("raw: %d rows", n)
			}
		}},
		{unit: "select1-µs", run: func() {
			if _, err := f.raw.Exec(ctx, "SELECT 1"); err != nil {
				b.Fatal(err)
			}
		}},
	}
	for range 20 {
		for _, p := range parts {
			p.run()
		}
	}
	for b.Loop() {
		for i := range parts {
			parts[i].got = append(parts[i].got, timed(parts[i].run))
		}
	}
	for _, p := range parts {
		b.ReportMetric(medianDuration(p.got)/float64(time.Microsecond), p.unit)
	}
}
