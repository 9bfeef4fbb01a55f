package agentmv_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/refresh"
)

// incrementalYAML is a project with two incremental views (a grouped one and a join) and one
// refreshed in full.
func incrementalYAML(extra string) string {
	return `version: 1
target_schema: agent_mv
views:
  - {name: by_customer, sql_file: materialize/by_customer.sql, description: per customer, refresh_strategy: incremental, incremental_threshold: 1}
  - {name: order_names, sql_file: materialize/order_names.sql, description: orders with names, refresh_strategy: incremental, incremental_threshold: 1}
  - {name: totals, sql_file: materialize/totals.sql, description: totals}
` + extra
}

func incrementalFiles(pr *project) {
	pr.write("materialize/by_customer.sql", exactViews["by_customer"])
	pr.write("materialize/order_names.sql", exactViews["order_names"])
	pr.write("materialize/totals.sql", exactViews["totals"])
}

// captureObjects lists every trigger whose function lives in agent_mv, and every internal
// ($-named) object in agent_mv, with its kind: what "no capture left behind" means.
func captureObjects(t *testing.T, pr *project) []string {
	t.Helper()
	rows, err := pr.admin.Query(context.Background(), `
SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass::text
  FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'agent_mv'
UNION ALL
SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'agent_mv' AND strpos(p.proname, '$') > 0
UNION ALL
SELECT c.relkind::text || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'agent_mv' AND strpos(c.relname, '$') > 0 AND c.relname <> '$capture_seq'
ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// relkind returns the relkind of agent_mv.<name> ("" when absent).
func relkind(t *testing.T, pr *project, name string) string {
	t.Helper()
	var k string
	err := pr.admin.QueryRow(context.Background(), `SELECT coalesce((SELECT c.relkind::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'agent_mv' AND c.relname = $1), '')`, name).Scan(&k)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sameAsQuery fails unless agent_mv.<view> equals its defining query (EXCEPT ALL both ways).
func sameAsQuery(t *testing.T, pr *project, view string) {
	t.Helper()
	q := fmt.Sprintf(`SELECT count(*) FROM ((SELECT * FROM agent_mv.%[1]s EXCEPT ALL (%[2]s)) UNION ALL ((%[2]s) EXCEPT ALL SELECT * FROM agent_mv.%[1]s)) d`, view, exactViews[view])
	var diff int
	if err := pr.admin.QueryRow(context.Background(), q).Scan(&diff); err != nil {
		t.Fatal(err)
	}
	if diff != 0 {
		t.Fatalf("%s differs from its defining query by %d rows", view, diff)
	}
}

// TestIncrementalApplyDropReapply: apply installs capture for incremental views only, a
// removed or switched view leaves no capture behind, a failing apply changes nothing (not
// even capture), and re-applying brings everything back.
func TestIncrementalApplyDropReapply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pr := newProject(t, exactSchema)
	incrementalFiles(pr)
	pr.write("materialize.yaml", incrementalYAML(""))
	res := pr.apply()
	for _, v := range []string{"by_customer", "order_names"} {
		if s, _ := res.Plan.Step(v); s.Strategy != "incremental" || s.Refresh == nil || s.Refresh.Mode != "incremental" {
			t.Errorf("plan step %s: %+v", v, s)
		}
	}
	if k := relkind(t, pr, "by_customer"); k != "r" {
		t.Fatalf("by_customer relkind %q, want a table", k)
	}
	if k := relkind(t, pr, "totals"); k != "m" {
		t.Fatalf("totals relkind %q, want a materialized view", k)
	}
	installed := captureObjects(t, pr)
	want := []string{"function by_customer$cap1", "function order_names$cap1", "function order_names$cap2",
		"i by_customer$key", "i order_names$key", "r by_customer$log1", "r order_names$log1", "r order_names$log2",
		"trigger agent_mv$by_customer$1d on orders", "trigger agent_mv$by_customer$1i on orders",
		"trigger agent_mv$by_customer$1t on orders", "trigger agent_mv$by_customer$1u on orders",
		"trigger agent_mv$order_names$1d on customers", "trigger agent_mv$order_names$1i on customers",
		"trigger agent_mv$order_names$1t on customers", "trigger agent_mv$order_names$1u on customers",
		"trigger agent_mv$order_names$2d on orders", "trigger agent_mv$order_names$2i on orders",
		"trigger agent_mv$order_names$2t on orders", "trigger agent_mv$order_names$2u on orders",
		"v by_customer$def", "v order_names$def"}
	if strings.Join(installed, "\n") != strings.Join(want, "\n") {
		t.Fatalf("capture objects:\n%s\nwant:\n%s", strings.Join(installed, "\n"), strings.Join(want, "\n"))
	}
	// A second apply is a no-op (same OIDs, capture untouched).
	before := pr.oids()
	if res := pr.apply(); res.Plan.Changes() {
		t.Fatalf("second apply changes something:\n%s", res.Plan)
	}
	if !equalMaps(before, pr.oids()) {
		t.Fatal("second apply changed OIDs")
	}

	// A failing apply (the new view cannot be incremental) changes nothing.
	snap := pr.snapshot()
	pr.write("materialize/recent.sql", "SELECT id, amount FROM orders WHERE amount > 0 AND now() > '2000-01-01'")
	pr.write("materialize.yaml", incrementalYAML("  - {name: recent, sql_file: materialize/recent.sql, description: recent, refresh_strategy: incremental}\n"))
	_, err := pr.open().Apply(ctx, agentmv.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "now() is not supported") || !strings.Contains(err.Error(), "refresh_strategy: full") {
		t.Fatalf("apply of a view that cannot be incremental: %v", err)
	}
	// One that fails while creating (the second incremental view's query fails on the data)
	// rolls back the capture of the first.
	pr.write("materialize/broken.sql", "SELECT id, 100 / (id - id) AS x FROM orders")
	pr.write("materialize/first.sql", "SELECT status, count(*) AS n FROM orders GROUP BY status")
	pr.write("materialize.yaml", incrementalYAML(`  - {name: first, sql_file: materialize/first.sql, description: first, refresh_strategy: incremental}
  - {name: zz_broken, sql_file: materialize/broken.sql, description: broken, refresh_strategy: incremental}
`))
	if _, err := pr.open().Apply(ctx, agentmv.ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("apply with a failing view: %v", err)
	}
	if after := pr.snapshot(); after != snap {
		t.Fatalf("failed applies changed the database:\n%s\n%s", snap, after)
	}
	if got := captureObjects(t, pr); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("failed applies changed capture:\n%s", strings.Join(got, "\n"))
	}

	// Switching a view to full removes its capture; removing the other removes the rest.
	pr.write("materialize.yaml", strings.Replace(incrementalYAML(""), "orders with names, refresh_strategy: incremental, incremental_threshold: 1", "orders with names", 1))
	res = pr.apply()
	if s, _ := res.Plan.Step("order_names"); s.Action != agentmv.ActionRebuild || !strings.Contains(s.Reason, "refresh_strategy changed from incremental to full") {
		t.Fatalf("switch to full: %+v", s)
	}
	if k := relkind(t, pr, "order_names"); k != "m" {
		t.Fatalf("order_names relkind %q after switching to full", k)
	}
	for _, o := range captureObjects(t, pr) {
		if strings.Contains(o, "order_names") {
			t.Fatalf("capture of order_names left behind: %s", o)
		}
	}
	pr.write("materialize.yaml", `version: 1
target_schema: agent_mv
views:
  - {name: totals, sql_file: materialize/totals.sql, description: totals}
`)
	pr.apply()
	if got := captureObjects(t, pr); len(got) != 0 {
		t.Fatalf("capture left behind after removing every incremental view:\n%s", strings.Join(got, "\n"))
	}

	// Re-apply: capture is back and the views are exact after writes and a refresh.
	pr.write("materialize.yaml", incrementalYAML(""))
	pr.apply()
	if got := captureObjects(t, pr); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("capture after re-apply:\n%s", strings.Join(got, "\n"))
	}
	pr.db.Exec(t, "UPDATE orders SET customer_id = customer_id % 5 + 1 WHERE id % 3 = 0; DELETE FROM customers WHERE id = 2")
	p := pr.open()
	for _, v := range []string{"by_customer", "order_names"} {
		r, err := p.Refresh(ctx, v)
		if err != nil || r.Mode != "incremental" || r.ChangesApplied == nil || *r.ChangesApplied == 0 || r.RowsChanged == nil {
			t.Fatalf("refresh %s: %+v %v", v, r, err)
		}
		sameAsQuery(t, pr, v)
	}

	// agent-mv drop removes the view and its capture.
	if _, err := p.Drop(ctx, "order_names"); err != nil {
		t.Fatal(err)
	}
	for _, o := range captureObjects(t, pr) {
		if strings.Contains(o, "order_names") {
			t.Fatalf("drop left capture behind: %s", o)
		}
	}
}

// TestIncrementalFallsBack: a full refresh (with the reason in the result and the history)
// whenever the captured changes cannot be trusted or are too many, and doctor ✗ while capture
// is broken; apply repairs it.
func TestIncrementalFallsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pr := newProject(t, exactSchema)
	incrementalFiles(pr)
	pr.write("materialize.yaml", strings.Replace(incrementalYAML(""), "per customer, refresh_strategy: incremental, incremental_threshold: 1",
		"per customer, refresh_strategy: incremental, incremental_threshold: 0.2", 1))
	pr.apply()
	p := pr.open()
	refreshed := func(view, mode, reason string) refresh.Result {
		t.Helper()
		r, err := p.Refresh(ctx, view)
		if err != nil || r.Mode != mode || !strings.Contains(r.ModeReason, reason) {
			t.Fatalf("refresh %s: mode %q reason %q (err %v), want %s with %q", view, r.Mode, r.ModeReason, err, mode, reason)
		}
		sameAsQuery(t, pr, view)
		var hist string
		if err := pr.admin.QueryRow(ctx, `SELECT mode || ': ' || mode_reason FROM agent_mv.refresh_history WHERE view_name = $1 ORDER BY id DESC LIMIT 1`, view).Scan(&hist); err != nil {
			t.Fatal(err)
		}
		if hist != r.Mode+": "+r.ModeReason {
			t.Fatalf("history %q, result %s: %s", hist, r.Mode, r.ModeReason)
		}
		return r
	}
	doctor := func(wantOK bool, want string) {
		t.Helper()
		rep, err := p.Doctor(ctx)
		if err != nil && !errors.Is(err, agentmv.ErrNoRuntimeURL) {
			t.Fatal(err)
		}
		if rep.OK() != wantOK || !strings.Contains(rep.String(), want) {
			t.Fatalf("doctor (want ok=%v, %q):\n%s", wantOK, want, rep)
		}
	}
	doctor(true, "✓ change capture of 2 incremental views is installed and enabled")

	// Small change: incremental.
	pr.db.Exec(t, "UPDATE orders SET amount = amount + 1 WHERE id = 3")
	refreshed("by_customer", "incremental", "1 captured row changes applied")

	// TRUNCATE is captured as a marker.
	pr.db.Exec(t, "TRUNCATE orders")
	refreshed("by_customer", "blocking", "full refresh: public.orders was truncated")
	pr.db.Exec(t, "INSERT INTO orders SELECT g, g % 7, g, 'paid' FROM generate_series(1, 40) g")
	pr.db.Exec(t, "ANALYZE orders") // the threshold compares with the table's row count
	refreshed("by_customer", "blocking", "full refresh: more than 8 captured row images, over incremental_threshold 0.2")
	pr.db.Exec(t, "INSERT INTO orders VALUES (100, 1, 1, 'paid')")
	refreshed("by_customer", "incremental", "captured row changes applied")

	// Capture disabled and enabled again: writes in between were not seen.
	pr.db.Exec(t, `ALTER TABLE orders DISABLE TRIGGER "agent_mv$by_customer$1u"`)
	pr.db.Exec(t, "UPDATE orders SET customer_id = 3 WHERE id = 5")
	doctor(false, "✗ incremental view by_customer: 1 of 4 capture triggers on public.orders are not enabled ALWAYS")
	refreshed("by_customer", "blocking", "change capture on public.orders is missing or disabled")
	pr.db.Exec(t, `ALTER TABLE orders ENABLE ALWAYS TRIGGER "agent_mv$by_customer$1u"`)
	pr.db.Exec(t, "UPDATE orders SET customer_id = 4 WHERE id = 6")
	refreshed("by_customer", "blocking", "change capture was disabled, dropped or recreated since the last refresh")
	pr.db.Exec(t, "UPDATE orders SET customer_id = 5 WHERE id = 7")
	refreshed("by_customer", "incremental", "captured row changes applied")

	// A renamed column: writes still succeed, refreshes are full, doctor says why, and apply
	// (with the SQL file updated) rebuilds the view.
	pr.db.Exec(t, "ALTER TABLE customers RENAME COLUMN name TO full_name")
	pr.db.Exec(t, "UPDATE customers SET full_name = 'renamed' WHERE id = 1")
	doctor(false, "columns of public.customers it captures were renamed or dropped")
	r, err := p.Refresh(ctx, "order_names")
	if err != nil || r.Mode != "blocking" || !strings.Contains(r.ModeReason, "cannot read the columns it was built for") {
		t.Fatalf("refresh after a rename: %+v %v", r, err)
	}
	pr.write("materialize/order_names.sql", strings.ReplaceAll(exactViews["order_names"], "c.name", "c.full_name"))
	res := pr.apply()
	if s, _ := res.Plan.Step("order_names"); s.Action != agentmv.ActionRebuild {
		t.Fatalf("apply after the rename: %+v", s)
	}
	doctor(true, "✓ change capture of 2 incremental views")

	// A dropped trigger: doctor ✗, refreshes full, apply rebuilds.
	pr.db.Exec(t, `DROP TRIGGER "agent_mv$by_customer$1d" ON orders`)
	pr.db.Exec(t, "DELETE FROM orders WHERE id = 8")
	doctor(false, "1 of 4 capture triggers on public.orders are missing")
	refreshed("by_customer", "blocking", "missing or disabled")
	res = pr.apply()
	if s, _ := res.Plan.Step("by_customer"); s.Action != agentmv.ActionRebuild || !strings.Contains(s.Reason, "change capture is broken") {
		t.Fatalf("apply after a dropped trigger: %+v", s)
	}
	doctor(true, "✓ change capture of 2 incremental views")
	pr.db.Exec(t, "DELETE FROM orders WHERE id = 9")
	refreshed("by_customer", "incremental", "captured row changes applied")

	// Capture left behind by hand is ✗ and apply removes it.
	pr.db.Exec(t, `CREATE TRIGGER stray AFTER INSERT ON customers FOR EACH STATEMENT EXECUTE FUNCTION agent_mv."by_customer$cap1"()`)
	doctor(false, "change capture that no incremental view owns: trigger stray on public.customers")
	pr.db.Exec(t, `DROP TRIGGER stray ON customers`)
	pr.db.Exec(t, `SET ROLE `+pgx.Identifier{pr.settings.OwnerRole}.Sanitize()+`; CREATE TABLE agent_mv."old$log1" (x int); RESET ROLE`)
	doctor(false, "table agent_mv.old$log1")
	pr.apply()
	doctor(true, "✓ change capture")
}

// TestIncrementalFailureIsDurable: a refresh whose maintenance and full refresh both fail is
// recorded as failed (durably) and the view keeps its contents; busy and fresh behave as for
// materialized views.
func TestIncrementalFailureIsDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pr := newProject(t, exactSchema)
	pr.write("materialize/ratio.sql", "SELECT id, 100 / (customer_id - 999) AS r FROM orders WHERE customer_id IS NOT NULL")
	pr.write("materialize.yaml", `version: 1
target_schema: agent_mv
views:
  - {name: ratio, sql_file: materialize/ratio.sql, description: ratio, refresh_strategy: incremental, min_refresh_interval: 1h}
`)
	pr.apply()
	pr.db.Exec(t, "DELETE FROM agent_mv.refresh_history") // so min_refresh_interval does not answer "fresh"
	var before int
	if err := pr.admin.QueryRow(ctx, "SELECT count(*) FROM agent_mv.ratio").Scan(&before); err != nil {
		t.Fatal(err)
	}
	pr.db.Exec(t, "INSERT INTO orders VALUES (5000, 999, 1, 'paid')")
	p := pr.open()
	_, err := p.Refresh(ctx, "ratio")
	var failed *refresh.FailedError
	if !errors.As(err, &failed) || failed.Result.SQLState != "22012" {
		t.Fatalf("refresh over a division by zero: %v", err)
	}
	var status, errText string
	if err := pr.admin.QueryRow(ctx, "SELECT status, error FROM agent_mv.refresh_history WHERE view_name = 'ratio' ORDER BY id DESC LIMIT 1").Scan(&status, &errText); err != nil || status != "failed" || !strings.Contains(errText, "division by zero") {
		t.Fatalf("history: %s %s %v", status, errText, err)
	}
	var after, logged int
	if err := pr.admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM agent_mv.ratio), (SELECT count(*) FROM agent_mv."ratio$log1")`).Scan(&after, &logged); err != nil {
		t.Fatal(err)
	}
	if after != before || logged != 1 {
		t.Fatalf("after a failed refresh: %d rows (was %d), %d captured changes kept (want 1)", after, before, logged)
	}
	// The cause fixed, the kept change is applied.
	pr.db.Exec(t, "DELETE FROM orders WHERE id = 5000")
	r, err := p.Refresh(ctx, "ratio")
	if err != nil || r.Mode != "incremental" || r.ChangesApplied == nil || *r.ChangesApplied != 2 {
		t.Fatalf("refresh after the fix: %+v %v", r, err)
	}
	// fresh: min_refresh_interval answers without refreshing.
	if r, err := p.Refresh(ctx, "ratio"); err != nil || r.Status != "fresh" {
		t.Fatalf("second refresh within min_refresh_interval: %+v %v", r, err)
	}
	// busy: another session holds the refresh lock.
	pr.db.Exec(t, "DELETE FROM agent_mv.refresh_history")
	tx, err := pr.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('agentmv:agent_mv'), hashtext('ratio'))"); err != nil {
		t.Fatal(err)
	}
	if r, err := p.Refresh(ctx, "ratio"); err != nil || r.Status != "busy" {
		t.Fatalf("refresh while another holds the lock: %+v %v", r, err)
	}
}

// TestIncrementalBoundary attacks the capture objects as the runtime role over TCP: it can
// read the view and nothing of the capture, and cannot switch capture off. A writer with
// only INSERT/UPDATE/DELETE on a captured table (nothing on agent_mv) writes normally.
func TestIncrementalBoundary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pr := newProject(t, exactSchema)
	incrementalFiles(pr)
	pr.write("materialize.yaml", incrementalYAML(""))
	pr.apply()
	runtime, err := pgx.Connect(ctx, pr.settings.RuntimeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.Close(ctx)
	if _, err := runtime.Exec(ctx, "SELECT * FROM agent_mv.by_customer"); err != nil {
		t.Fatalf("runtime cannot read the incremental view: %v", err)
	}
	// Its sessions start read-only; an attacker turns that off first, so what refuses the
	// writes below is the missing privilege.
	if _, err := runtime.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		t.Fatal(err)
	}
	attacks := []string{
		`SELECT * FROM agent_mv."by_customer$log1"`,
		`INSERT INTO agent_mv."by_customer$log1" ("$stmt", "$img") VALUES (1, 't')`,
		`DELETE FROM agent_mv."by_customer$log1"`,
		`TRUNCATE agent_mv."by_customer$log1"`,
		`SELECT * FROM agent_mv."by_customer$def"`,
		`SELECT * FROM agent_mv.incremental`,
		`UPDATE agent_mv.incremental SET maintain_sql = 'SELECT 1'`,
		`SELECT agent_mv.incremental_mode('by_customer', 0.1)`,
		`SELECT agent_mv.incremental_refresh('by_customer', 'incremental')`,
		`INSERT INTO agent_mv.by_customer (customer_id) VALUES (1)`,
		`DELETE FROM agent_mv.by_customer`,
		`TRUNCATE agent_mv.by_customer`,
		`ALTER TABLE public.orders DISABLE TRIGGER ALL`,
		`DROP TRIGGER "agent_mv$by_customer$1i" ON public.orders`,
		`SELECT nextval('agent_mv."$capture_seq"')`,
	}
	for _, a := range attacks {
		_, err := runtime.Exec(ctx, a)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "42501" && pgErr.Code != "42809") {
			t.Errorf("runtime role: %s: %v (want permission denied)", a, err)
		}
		// The admin can: the attack targets something real.
		tx, err := pr.admin.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, a); err != nil && !strings.Contains(a, "incremental_refresh") {
			t.Errorf("admin: %s: %v", a, err)
		}
		_ = tx.Rollback(ctx)
	}
	// A writer with no privilege on agent_mv.
	writer := pr.db.CreateLoginRole(t, pr.db.Prefix+"_writer", "pw")
	pr.db.Exec(t, "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.orders TO "+pgx.Identifier{pr.db.Prefix + "_writer"}.Sanitize())
	wc, err := pgx.Connect(ctx, writer)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close(ctx)
	for _, w := range []string{"INSERT INTO orders VALUES (900, 1, 5, 'paid')", "UPDATE orders SET amount = 6 WHERE id = 900", "DELETE FROM orders WHERE id = 1"} {
		if _, err := wc.Exec(ctx, w); err != nil {
			t.Fatalf("writer: %s: %v", w, err)
		}
	}
	r, err := pr.open().Refresh(ctx, "by_customer")
	if err != nil || r.Mode != "incremental" || *r.ChangesApplied != 3 {
		t.Fatalf("refresh after the writer: %+v %v", r, err)
	}
	sameAsQuery(t, pr, "by_customer")
}

// TestIncrementalExplained: plan, list_views and describe_view (over a real MCP session) say
// which views are incremental and how they refresh; a view refreshed in full says so too; and
// after capture is disabled, plan says it will rebuild the view and why.
func TestIncrementalExplained(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pr := newProject(t, exactSchema)
	incrementalFiles(pr)
	pr.write("materialize.yaml", incrementalYAML(""))
	pr.apply()
	p := pr.open()
	inc := boundary.IncrementalRefreshMode()

	plan, err := p.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]string{"by_customer": "incremental", "order_names": "incremental", "totals": "full"} {
		s, ok := plan.Step(v)
		if !ok || s.Strategy != want || s.Refresh == nil {
			t.Fatalf("plan step %s = %+v, want strategy %s with a refresh mode", v, s, want)
		}
		if want == "incremental" && *s.Refresh != inc {
			t.Errorf("plan: %s refresh = %+v, want %+v", v, *s.Refresh, inc)
		}
		if want == "full" && s.Refresh.Mode == "incremental" {
			t.Errorf("plan: %s (full) refresh = %+v", v, *s.Refresh)
		}
	}

	cs := mountProject(t, p)
	call := func(tool string, args map[string]any, out any) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil || res.IsError {
			t.Fatalf("%s %v: %v %+v", tool, args, err, res)
		}
		if err := json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), out); err != nil {
			t.Fatal(err)
		}
	}
	var list struct {
		Views []struct {
			Name     string `json:"name"`
			Strategy string `json:"refresh_strategy"`
		} `json:"views"`
	}
	call("list_views", map[string]any{}, &list)
	got := map[string]string{}
	for _, v := range list.Views {
		got[v.Name] = v.Strategy
	}
	if want := map[string]string{"by_customer": "incremental", "order_names": "incremental", "totals": "full"}; !maps.Equal(got, want) {
		t.Fatalf("list_views strategies %v, want %v", got, want)
	}
	for v, want := range map[string]string{"by_customer": "incremental", "totals": "full"} {
		var d struct {
			Strategy string `json:"refresh_strategy"`
			Reason   string `json:"refresh_mode_reason"`
			Columns  []struct {
				Name string `json:"name"`
			} `json:"columns"`
		}
		call("describe_view", map[string]any{"name": v}, &d)
		if d.Strategy != want || len(d.Columns) == 0 {
			t.Errorf("describe_view %s: strategy %q, %d columns; want %s", v, d.Strategy, len(d.Columns), want)
		}
		if want == "incremental" && d.Reason != inc.Reason {
			t.Errorf("describe_view %s: refresh_mode_reason %q, want %q", v, d.Reason, inc.Reason)
		}
	}

	// Capture disabled by hand: plan rebuilds the view and says why.
	pr.db.Exec(t, `ALTER TABLE orders DISABLE TRIGGER "agent_mv$by_customer$1i"`)
	plan, err = p.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := plan.Step("by_customer"); s.Action != agentmv.ActionRebuild || !strings.Contains(s.Reason, "change capture is broken") ||
		!strings.Contains(s.Reason, "not enabled ALWAYS") {
		t.Fatalf("plan with capture disabled: %+v", s)
	}
}
