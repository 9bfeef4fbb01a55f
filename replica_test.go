package agentmv_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/examples/demo"
	"github.com/agentmv/agentmv/internal/pglocal"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/tools"
)

// ownCluster is a throwaway primary of the test's own (pgtest's shared cluster cannot have a
// replica or a pgbouncer of this test), with the demo project applied in database postgres.
type ownCluster struct {
	primary    *pglocal.Cluster
	admin      *pgx.Conn
	runtimeURL string // the runtime role on the primary, over TCP
}

const ownRuntimeRole = "agent_mv_runtime"

func startOwnCluster(t testing.TB) *ownCluster {
	t.Helper()
	ctx := context.Background()
	primary, err := pglocal.Start(ctx, pglocal.Options{})
	if errors.Is(err, pglocal.ErrNoBinaries) {
		testutil.SkipOrFail(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = primary.Close() })
	admin, err := pgx.Connect(ctx, primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	if _, err := admin.Exec(ctx, smallShop); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := demo.WriteProject(dir); err != nil {
		t.Fatal(err)
	}
	oc := &ownCluster{primary: primary, admin: admin,
		runtimeURL: primary.URLFor(ownRuntimeRole, runtimePassword, "postgres")}
	p, err := agentmv.Open(ctx, agentmv.Options{
		ConfigPath: filepath.Join(dir, "materialize.yaml"),
		DotenvPath: "-",
		Overrides:  agentmv.Settings{DatabaseURL: primary.URL("postgres"), RuntimeURL: oc.runtimeURL, RuntimePassword: runtimePassword},
		Environ:    func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Apply(ctx, agentmv.ApplyOptions{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return oc
}

// addCustomer inserts one more customer with one paid order on the primary.
func (oc *ownCluster) addCustomer(t testing.TB, email string) {
	t.Helper()
	_, err := oc.admin.Exec(context.Background(), `WITH u AS (INSERT INTO users (email, created_at) VALUES ($1, '2025-12-28') RETURNING id),
	o AS (INSERT INTO orders (user_id, created_at) SELECT id, '2025-12-28' FROM u RETURNING id)
	INSERT INTO payments (order_id, amount_cents, paid_at) SELECT id, 1234, '2025-12-28' FROM o`, email)
	if err != nil {
		t.Fatal(err)
	}
}

// callTool calls a tool through the registry and decodes its JSON result into T.
func callTool[T any](t testing.TB, reg *tools.Registry, name string, args any) T {
	t.Helper()
	res := reg.Call(context.Background(), name, mustJSON(t, args))
	body := res.Content[0].(*mcp.TextContent).Text
	if res.IsError {
		t.Fatalf("%s: %s", name, body)
	}
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s: decode %T: %v\n%s", name, v, err, body)
	}
	return v
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	if v == nil {
		return json.RawMessage(`{}`)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type query struct {
	SQL string `json:"sql"`
}

type name struct {
	Name string `json:"name"`
}

// rollupProbe asks, in the session that serves query_view, whether it is a standby and how
// many customers and which emails customer_rollup holds there.
const rollupProbe = `SELECT pg_is_in_recovery() AS in_recovery, count(*) AS customers, string_agg(email, ',' ORDER BY email) AS emails FROM customer_rollup`

func probeRollup(t *testing.T, reg *tools.Registry) (inRecovery bool, customers int, emails string, out tools.QueryOutput) {
	t.Helper()
	out = callTool[tools.QueryOutput](t, reg, tools.ToolQueryView, query{rollupProbe})
	if len(out.Rows) != 1 || len(out.Rows[0]) != 3 {
		t.Fatalf("probe rows: %#v", out.Rows)
	}
	row := out.Rows[0]
	n, err := strconv.Atoi(string(mustJSON(t, row[1])))
	if err != nil {
		t.Fatalf("count: %v (%#v)", err, row[1])
	}
	return row[0].(bool), n, row[2].(string), out
}

// TestRuntimeReadReplica: the read tools read from a streaming replica (proved in the
// serving session with pg_is_in_recovery(), and by stale rows while replay is paused),
// refresh_view writes on the primary, the replica serves the new rows once replayed, the lag
// is reported while the replica is behind, and reads fall back to the primary with a note
// when the replica is gone.
func TestRuntimeReadReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	oc := startOwnCluster(t)
	replica, err := oc.primary.StartReplica(ctx)
	if err != nil {
		t.Fatal(err)
	}
	replicaClosed := false
	t.Cleanup(func() {
		if !replicaClosed {
			_ = replica.Close()
		}
	})
	replicaServer := "127.0.0.1:" + strconv.Itoa(replica.Port)
	primaryServer := "127.0.0.1:" + strconv.Itoa(oc.primary.Port)
	rt, err := agentmv.OpenRuntime(ctx, oc.runtimeURL, agentmv.RuntimeOptions{
		ReplicaURLs: []string{replica.URLFor(ownRuntimeRole, runtimePassword, "postgres")}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	reg := rt.Tools()
	onReplica := func(tool string, ri tools.ReadInfo) {
		t.Helper()
		if ri.ServedBy != tools.ServedByReplica || ri.Server != replicaServer || ri.ReadNote != "" {
			t.Errorf("%s: read info %+v, want served by the replica %s without a note", tool, ri, replicaServer)
		}
	}

	// Every read tool answers from the replica.
	lv := callTool[tools.ListViewsOutput](t, reg, tools.ToolListViews, nil)
	onReplica("list_views", lv.ReadInfo)
	if len(lv.Views) != 3 {
		t.Errorf("list_views on the replica: %d views, want 3", len(lv.Views))
	}
	dv := callTool[tools.DescribeViewOutput](t, reg, tools.ToolDescribeView, name{"customer_rollup"})
	onReplica("describe_view", dv.ReadInfo)
	if len(dv.Columns) != 5 || !dv.ConcurrentRefresh {
		t.Errorf("describe_view on the replica: %+v", dv)
	}
	gl := callTool[tools.LineageOutput](t, reg, tools.ToolGetLineage, name{"top_customers_30d"})
	onReplica("get_lineage", gl.ReadInfo)
	if strings.Join(gl.DependsOn, ",") != "customer_rollup" {
		t.Errorf("get_lineage on the replica: %+v", gl)
	}
	inRecovery, n, _, out := probeRollup(t, reg)
	onReplica("query_view", out.ReadInfo)
	if !inRecovery || n != 3 {
		t.Fatalf("query_view: in_recovery=%v customers=%d, want a standby with 3", inRecovery, n)
	}

	// refresh_view goes to the primary (a standby would refuse the history write); once
	// replayed, the replica serves the new row.
	oc.addCustomer(t, "dave@example.com")
	res := callTool[map[string]any](t, reg, tools.ToolRefreshView, name{"customer_rollup"})
	if res["status"] != "success" {
		t.Fatalf("refresh_view: %v", res)
	}
	var history int
	if err := oc.admin.QueryRow(ctx, `SELECT count(*) FROM agent_mv.refresh_history WHERE view_name = 'customer_rollup' AND status = 'success'`).Scan(&history); err != nil || history == 0 {
		t.Fatalf("no successful refresh recorded on the primary: %d %v", history, err)
	}
	if err := replica.WaitReplay(ctx, oc.primary, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	inRecovery, n, emails, out := probeRollup(t, reg)
	onReplica("query_view after replay", out.ReadInfo)
	if !inRecovery || n != 4 || !strings.Contains(emails, "dave@example.com") {
		t.Fatalf("after refresh and replay: in_recovery=%v customers=%d emails=%s", inRecovery, n, emails)
	}
	if out.ReplicaLagMs != 0 {
		t.Errorf("caught-up replica reports replica_lag_ms=%d", out.ReplicaLagMs)
	}

	// Replay paused: the replica has received the next refresh but not applied it. Reads
	// still come from it (old rows) and report the lag.
	super, err := pgx.Connect(ctx, replica.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	if _, err := super.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	oc.addCustomer(t, "erin@example.com")
	if res := callTool[map[string]any](t, reg, tools.ToolRefreshView, name{"customer_rollup"}); res["status"] != "success" {
		t.Fatalf("refresh_view with replay paused: %v", res)
	}
	var primaryLSN string
	if err := oc.admin.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&primaryLSN); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, testutil.Wait, "the replica to receive the refresh's WAL", func() (bool, error) {
		var received bool
		err := super.QueryRow(ctx, "SELECT coalesce(pg_last_wal_receive_lsn() >= $1::pg_lsn, false)", primaryLSN).Scan(&received)
		return received, err
	})
	time.Sleep(5 * time.Millisecond) // the lag is measured in whole milliseconds
	inRecovery, n, _, out = probeRollup(t, reg)
	if !inRecovery || n != 4 || out.ServedBy != tools.ServedByReplica {
		t.Fatalf("with replay paused: in_recovery=%v customers=%d served_by=%s, want the replica's old 4 rows", inRecovery, n, out.ServedBy)
	}
	if out.ReplicaLagMs <= 0 {
		t.Errorf("replica behind the primary reports replica_lag_ms=%d, want > 0", out.ReplicaLagMs)
	}
	lv = callTool[tools.ListViewsOutput](t, reg, tools.ToolListViews, nil)
	if lv.ServedBy != tools.ServedByReplica || lv.ReplicaLagMs <= 0 {
		t.Errorf("list_views with replay paused: %+v, want the replica's lag", lv.ReadInfo)
	}
	if _, err := super.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitReplay(ctx, oc.primary, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, n, _, out = probeRollup(t, reg); n != 5 || out.ReplicaLagMs != 0 {
		t.Errorf("after resuming replay: customers=%d replica_lag_ms=%d, want 5 and no lag", n, out.ReplicaLagMs)
	}

	// The replica goes away: reads fall back to the primary and say so.
	super.Close(ctx)
	replicaClosed = true
	if err := replica.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second call skips the replica marked down without a connect attempt
		inRecovery, n, _, out = probeRollup(t, reg)
		if inRecovery || n != 5 || out.ServedBy != tools.ServedByPrimary || out.Server != primaryServer ||
			!strings.Contains(out.ReadNote, "no replica answered") || !strings.Contains(out.ReadNote, replicaServer) {
			t.Errorf("call %d without the replica: in_recovery=%v customers=%d read info %+v", i, inRecovery, n, out.ReadInfo)
		}
	}
	gl = callTool[tools.LineageOutput](t, reg, tools.ToolGetLineage, name{"customer_rollup"})
	if gl.ServedBy != tools.ServedByPrimary || len(gl.DependedOnBy) != 1 {
		t.Errorf("get_lineage without the replica: %+v", gl)
	}
}

// TestRuntimeReplicaRoleChecked: a replica DSN that logs in as a role that is not a safe
// runtime role (here the superuser) stops OpenRuntime, like an unsafe primary DSN would.
func TestRuntimeReplicaRoleChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	oc := startOwnCluster(t)
	replica, err := oc.primary.StartReplica(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	_, err = agentmv.OpenRuntime(ctx, oc.runtimeURL, agentmv.RuntimeOptions{ReplicaURLs: []string{replica.URL("postgres")}})
	if err == nil || !strings.Contains(err.Error(), "replica 1") || !strings.Contains(err.Error(), "superuser") {
		t.Fatalf("OpenRuntime with a superuser replica DSN: %v", err)
	}
	if strings.Contains(err.Error(), replica.Password) {
		t.Errorf("error leaks the replica password: %v", err)
	}
}

// BenchmarkQueryViewOnReplica measures query_view routed to a replica (one probe query plus
// the read) against the same call on a runtime without replicas, in the same run.
func BenchmarkQueryViewOnReplica(b *testing.B) {
	ctx := context.Background()
	oc := startOwnCluster(b)
	replica, err := oc.primary.StartReplica(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer replica.Close()
	open := func(replicas ...string) *tools.Registry {
		rt, err := agentmv.OpenRuntime(ctx, oc.runtimeURL, agentmv.RuntimeOptions{ReplicaURLs: replicas})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(rt.Close)
		return rt.Tools()
	}
	routed, direct := open(replica.URLFor(ownRuntimeRole, runtimePassword, "postgres")), open()
	args := mustJSON(b, query{"SELECT customer_id, email FROM customer_rollup WHERE customer_id = 1"})
	run := func(reg *tools.Registry, n int) time.Duration {
		start := time.Now()
		for range n {
			if res := reg.Call(ctx, tools.ToolQueryView, args); res.IsError {
				b.Fatal(res.Content[0].(*mcp.TextContent).Text)
			}
		}
		return time.Since(start)
	}
	run(routed, 20)
	run(direct, 20)
	b.ResetTimer()
	onReplica := run(routed, b.N)
	b.StopTimer()
	onPrimary := run(direct, b.N)
	b.ReportMetric(float64(onReplica)/float64(onPrimary), "ratio_vs_primary")
}
