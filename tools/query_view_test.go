package tools_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/refresh"
	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

func TestQueryView(t *testing.T) {
	t.Parallel()
	_, cs := runtimeSession(t)
	out := decode[tools.QueryOutput](t, call(t, cs, "query_view", map[string]any{
		"sql": "SELECT customer_id, revenue FROM customer_rollup ORDER BY customer_id", "limit": 3}))
	if out.RowCount != 3 || !out.Truncated || out.TruncatedReason != tools.TruncatedMaxRows || len(out.Columns) != 2 {
		t.Errorf("limited query: %+v", out.Result)
	}
	if len(out.Freshness) != 1 || out.Freshness[0].View != "customer_rollup" {
		t.Errorf("freshness: %+v", out.Freshness)
	}
	// UNION of two views, qualified and not, and the metadata tables.
	u := decode[tools.QueryOutput](t, call(t, cs, "query_view", map[string]any{"sql": `
SELECT 'c' AS k, count(*) AS n FROM agent_mv.customer_rollup
UNION ALL SELECT 'd', count(*) FROM daily_revenue
UNION ALL SELECT 'l', count(*) FROM lineage ORDER BY 1`}))
	if u.RowCount != 3 || u.Truncated || len(u.Freshness) != 2 {
		t.Errorf("union: %+v %+v", u.Result, u.Freshness)
	}
}

// TestQueryViewAttacks: every attack runs as the runtime role over TCP, and each one could
// succeed if the corresponding defence were missing.
func TestQueryViewAttacks(t *testing.T) {
	t.Parallel()
	env, cs := runtimeSession(t)
	cases := []struct{ name, sql, want string }{
		{"stacked", "SELECT 1 AS x FROM customer_rollup; DROP MATERIALIZED VIEW agent_mv.customer_rollup", tools.ErrNotAllowed},
		{"commit", "COMMIT; DROP MATERIALIZED VIEW agent_mv.customer_rollup", tools.ErrNotAllowed},
		{"writable cte", "WITH d AS (DELETE FROM agent_mv.refresh_history RETURNING 1) SELECT * FROM d", tools.ErrNotAllowed},
		{"select into", "SELECT * INTO agent_mv.copy FROM customer_rollup", tools.ErrNotAllowed},
		{"for update", "SELECT * FROM customer_rollup FOR UPDATE", tools.ErrNotAllowed},
		{"set_config", "SELECT set_config('statement_timeout', '0', false) FROM customer_rollup", tools.ErrNotAllowed},
		{"pg_sleep", "SELECT pg_sleep(60)", tools.ErrNotAllowed},
		{"pg_matviews", "SELECT definition FROM pg_matviews", tools.ErrNotAllowed},
		{"pg_catalog.pg_matviews", "SELECT definition FROM pg_catalog.pg_matviews", tools.ErrNotAllowed},
		{"pg_get_viewdef", "SELECT pg_get_viewdef('agent_mv.customer_rollup'::regclass)", tools.ErrNotAllowed},
		{"base table", "SELECT * FROM public.secrets", tools.ErrNotAllowed},
		{"base table unqualified", "SELECT * FROM secrets", tools.ErrNotAllowed},
		{"base table in subquery", "SELECT (SELECT secret FROM public.secrets LIMIT 1) FROM customer_rollup", tools.ErrNotAllowed},
		{"refresh function", "SELECT agent_mv.refresh_view('customer_rollup')", tools.ErrNotAllowed},
		{"syntax", "SELEC 1", tools.ErrSyntax},
		{"unknown column", "SELECT nope FROM customer_rollup", tools.ErrQuery},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The error type proves the guard refused before execution: pg_sleep(60) run
			// for real would end in a timeout, not not_allowed.
			te := toolErr(t, call(t, cs, "query_view", map[string]any{"sql": c.sql}))
			if te.ErrorType != c.want {
				t.Errorf("error_type %s, want %s (%s)", te.ErrorType, c.want, te.Message)
			}
		})
	}
	// No side effect: the view and the history are intact.
	var n int
	if err := env.Admin.QueryRow(context.Background(), "SELECT count(*) FROM agent_mv.customer_rollup").Scan(&n); err != nil || n != 20 {
		t.Errorf("customer_rollup after the attacks: n=%d err=%v", n, err)
	}
	// The role itself cannot read base tables: the boundary holds without the guard.
	pool := env.RuntimePool(t)
	if _, err := tools.ExecQuery(context.Background(), pool, "agent_mv", "SELECT * FROM public.secrets", tools.Limits{}); tools.ErrorTypeOf(err) != tools.ErrNotAllowed {
		t.Errorf("runtime role reading public.secrets directly: %v", err)
	}
}

func TestQueryViewBounded(t *testing.T) {
	t.Parallel()
	env, cs := runtimeSession(t)
	// The row cap and the byte budget are not about time: this session's statement timeout
	// is generous, so a loaded machine cannot turn a truncation into a timeout (issue 22).
	// The slow query below runs in the default session (5 s statement timeout).
	patient, err := tools.RuntimeTools(tools.RuntimeConfig{Pool: env.RuntimePool(t), Schema: env.Names.Schema,
		Limits: tools.Limits{StatementTimeout: testutil.Wait}})
	if err != nil {
		t.Fatal(err)
	}
	pcs := session(t, patient)
	// 1e8 rows via a view: truncated at the row cap, bounded memory.
	start := time.Now()
	big := decode[tools.QueryOutput](t, call(t, pcs, "query_view", map[string]any{
		"sql": "SELECT customer_id, generate_series(1, 100000000) AS g FROM customer_rollup"}))
	if big.RowCount != tools.DefaultMaxRows || !big.Truncated {
		t.Errorf("generate_series: rows=%d truncated=%v", big.RowCount, big.Truncated)
	}
	// 10 MB text values: cut by the byte budget.
	blob := call(t, pcs, "query_view", map[string]any{"sql": "SELECT customer_id, repeat('x', 10 * 1024 * 1024) AS blob FROM customer_rollup"})
	body := text(t, blob)
	if len(body) > 2*tools.DefaultMaxBytes {
		t.Errorf("10 MB values: response is %d bytes", len(body))
	}
	b := decode[tools.QueryOutput](t, blob)
	if !b.Truncated || b.TruncatedReason != tools.TruncatedMaxBytes {
		t.Errorf("10 MB values: %d rows truncated=%v reason=%s", b.RowCount, b.Truncated, b.TruncatedReason)
	}
	// A slow query through a view: the statement timeout ends it.
	slow := toolErr(t, call(t, cs, "query_view", map[string]any{
		"sql": "SELECT count(*) FROM customer_rollup a, customer_rollup b, generate_series(1, 100000000) g"}))
	if slow.ErrorType != tools.ErrTimeout {
		t.Errorf("slow query: %+v", slow)
	}
	t.Logf("bounded queries took %s", time.Since(start))
}

// TestQueryViewCachesFollowTheRegistry: query_view reuses the registry it read and its guard
// verdicts, yet a view applied a moment later is queryable at once (a rejection under a
// cached registry reads it again), and repeated text gets the same answer every time.
func TestQueryViewCachesFollowTheRegistry(t *testing.T) {
	t.Parallel()
	env, cs := runtimeSession(t)
	const q = "SELECT count(*) AS n FROM fresh_view"
	for range 2 { // twice: the second rejection comes from the verdict cache
		if te := toolErr(t, call(t, cs, "query_view", map[string]any{"sql": q})); te.ErrorType != tools.ErrNotAllowed {
			t.Fatalf("unknown view: %+v, want not_allowed", te)
		}
	}
	ctx := context.Background()
	tx, err := env.Admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := boundary.CreateView(ctx, tx, env.Names, "fresh_view", "SELECT id FROM public.customers", nil); err != nil {
		t.Fatal(err)
	}
	if err := boundary.UpsertView(ctx, tx, env.Names, boundary.ViewRecord{Name: "fresh_view", Description: "Applied after the first query.", SQLHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Within the registry cache's lifetime (1 s): the rejection makes query_view read it again.
	for i := range 3 {
		out := decode[tools.QueryOutput](t, call(t, cs, "query_view", map[string]any{"sql": q}))
		if out.RowCount != 1 || len(out.Freshness) != 1 || out.Freshness[0].View != "fresh_view" {
			t.Fatalf("call %d after apply: %+v %+v", i+1, out.Result, out.Freshness)
		}
	}
	// The base table stays out of reach however often it is asked for.
	for range 3 {
		if te := toolErr(t, call(t, cs, "query_view", map[string]any{"sql": "SELECT * FROM public.customers"})); te.ErrorType != tools.ErrNotAllowed {
			t.Fatalf("base table: %+v", te)
		}
	}
}

// TestQueryViewFreshnessFollowsRefresh: query_view keeps the status it read (here for an
// hour), yet a refresh that finished elsewhere before the next query shows in that query's
// freshness: the query's own round trip carries the status mark, and a changed mark makes
// query_view read the status again.
func TestQueryViewFreshnessFollowsRefresh(t *testing.T) {
	t.Parallel()
	env := mcpclient.Setup(t)
	pool := env.RuntimePool(t)
	reg, err := tools.RuntimeTools(tools.RuntimeConfig{Pool: pool, Schema: env.Names.Schema, StatusCacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cs := session(t, reg)
	q := map[string]any{"sql": "SELECT count(*) AS n FROM daily_revenue"}
	first := decode[tools.QueryOutput](t, call(t, cs, "query_view", q))
	if len(first.Freshness) != 1 {
		t.Fatalf("freshness: %+v", first.Freshness)
	}
	for i := range 2 { // two refreshes by another client, each seen by the next query
		res, err := (&refresh.Client{DB: pool, Schema: env.Names.Schema}).Refresh(context.Background(), "daily_revenue")
		if err != nil || res.FinishedAt == nil {
			t.Fatalf("refresh %d: %+v %v", i+1, res, err)
		}
		out := decode[tools.QueryOutput](t, call(t, cs, "query_view", q))
		got := out.Freshness[0].LastRefreshedAt
		if got == nil || !got.Equal(*res.FinishedAt) {
			t.Fatalf("after refresh %d (finished %s): query_view reports last_refreshed_at %v", i+1, res.FinishedAt, got)
		}
	}
}
