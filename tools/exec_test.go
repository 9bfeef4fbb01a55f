package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

func TestMain(m *testing.M) {
	if os.Getenv(tools.PollableStdinChild) != "" { // TestPollableStdin's child needs no Postgres
		os.Exit(m.Run())
	}
	pgtest.Main(m)
}

const schema = "agent_mv"

// fixture creates the target schema with views for the executor tests and returns a pool
// limited to one connection, so every test also proves the connection is clean afterwards.
func fixture(t testing.TB) (*pgtest.DB, *pgxpool.Pool) {
	t.Helper()
	db := pgtest.NewDB(t)
	db.Exec(t, `
CREATE SCHEMA agent_mv;
CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric(10,2));
INSERT INTO public.orders SELECT g, g * 1.5 FROM generate_series(1, 1000) g;
CREATE TYPE public.mood AS ENUM ('ok', 'sad');
CREATE VIEW agent_mv.typed AS SELECT
  1::int4 AS i4, 9007199254740993::int8 AS i8, 2::int2 AS i2, 12.50::numeric AS num,
  'NaN'::numeric AS num_nan, 1.5::float8 AS f8, 'Infinity'::float8 AS f8_inf, true AS b,
  'héllo'::text AS t, 'x'::varchar(3) AS vc, NULL::text AS nul,
  '2024-03-01 12:34:56.789+02'::timestamptz AS tstz, '2024-03-01 12:34:56'::timestamp AS ts,
  '2024-03-01'::date AS d, 'infinity'::timestamptz AS tinf, '\xdeadbeef'::bytea AS bin,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, '{"a": [1, 2]}'::jsonb AS doc,
  ARRAY[1, 2, NULL]::int4[] AS arr, ARRAY['x', 'y']::text[] AS tarr,
  'ok'::public.mood AS mood, '1 day 02:00:00'::interval AS iv;
CREATE VIEW agent_mv.thousand AS SELECT g AS n, 'row ' || g AS label, g * 1.25 AS amount FROM generate_series(1, 1000) g;
CREATE VIEW agent_mv.big AS SELECT generate_series(1, 100000000) AS n;
CREATE VIEW agent_mv.blobs AS SELECT g AS n, repeat('x', 10 * 1024 * 1024) AS blob FROM generate_series(1, 50) g;
CREATE VIEW agent_mv.mid_blobs AS SELECT g AS n, repeat('y', 300 * 1024) AS blob FROM generate_series(1, 50) g;
CREATE VIEW agent_mv.slow AS SELECT 1 AS x FROM pg_sleep(30);
CREATE TABLE agent_mv.counter (n int);
CREATE SEQUENCE agent_mv.seq;
CREATE FUNCTION agent_mv.bump() RETURNS int LANGUAGE sql AS 'INSERT INTO agent_mv.counter VALUES (1) RETURNING 1';
CREATE VIEW agent_mv.writes AS SELECT agent_mv.bump() AS w;
CREATE VIEW agent_mv.pg_class AS SELECT 'managed, not the catalog'::text AS who;
`)
	cfg, err := pgxpool.ParseConfig(db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// Connect now: a test with a short deadline (TestExecQueryCanceledContext) must spend it
	// on the query, not on dialing and authenticating, which a loaded machine can stretch past
	// it (the dial's error is "unavailable", not the timeout the test asserts).
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, pool
}

// assertCleanConn checks the pooled connection is usable and carries none of the
// transaction-local settings.
func assertCleanConn(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	var timeout, path string
	err := pool.QueryRow(context.Background(), "SELECT current_setting('statement_timeout'), current_setting('search_path')").Scan(&timeout, &path)
	if err != nil {
		t.Fatalf("pool unusable after ExecQuery: %v", err)
	}
	if timeout != "0" || strings.Contains(path, "agent_mv") {
		t.Errorf("settings leaked out of the transaction: statement_timeout=%s search_path=%s", timeout, path)
	}
}

func TestExecQueryTypes(t *testing.T) {
	t.Parallel()
	_, pool := fixture(t)
	res, err := tools.ExecQuery(context.Background(), pool, schema, "SELECT * FROM typed", tools.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowCount != 1 || res.Truncated {
		t.Fatalf("rows=%d truncated=%v", res.RowCount, res.Truncated)
	}
	got := map[string]any{}
	types := map[string]string{}
	for i, c := range res.Columns {
		got[c.Name] = res.Rows[0][i]
		types[c.Name] = c.Type
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("result is not JSON-encodable: %v", err)
	}
	testutil.CheckGolden(t, filepath.Join("testdata", "typed_row.json"), indent(t, b))
	tb, _ := json.Marshal(types)
	testutil.CheckGolden(t, filepath.Join("testdata", "typed_columns.json"), indent(t, tb))
	assertCleanConn(t, pool)
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return append(out.Bytes(), '\n')
}

func TestExecQueryLimits(t *testing.T) {
	t.Parallel()
	_, pool := fixture(t)
	cases := []struct {
		name       string
		sql        string
		limits     tools.Limits
		wantRows   int
		wantReason string
	}{
		{"all rows fit", "SELECT * FROM thousand", tools.Limits{MaxRows: 1000}, 1000, ""},
		{"one row over", "SELECT * FROM thousand", tools.Limits{MaxRows: 999}, 999, tools.TruncatedMaxRows},
		{"small limit", "SELECT * FROM thousand ORDER BY n DESC", tools.Limits{MaxRows: 3}, 3, tools.TruncatedMaxRows},
		{"empty", "SELECT * FROM thousand WHERE n < 0", tools.Limits{}, 0, ""},
		{"1e8 rows, cursor stops early", "SELECT n FROM big", tools.Limits{MaxRows: 1000}, 1000, tools.TruncatedMaxRows},
		{"10 MB value over the byte budget", "SELECT * FROM blobs", tools.Limits{}, 0, tools.TruncatedMaxBytes},
		{"300 KB rows, 1 MiB budget", "SELECT * FROM mid_blobs", tools.Limits{}, 3, tools.TruncatedMaxBytes},
		{"more rows than the first chunk", "SELECT n FROM big", tools.Limits{MaxRows: 10000}, 10000, tools.TruncatedMaxRows},
		{"cursor exhausted after the first chunk", "SELECT * FROM thousand", tools.Limits{MaxRows: 10000}, 1000, ""},
		{"byte budget across chunks", "SELECT * FROM thousand", tools.Limits{MaxBytes: 4096}, -1, tools.TruncatedMaxBytes},
	}
	for _, tc := range cases {
		// These cases are about rows and bytes, not time: the 5 s default statement timeout
		// ended the 10 MB case on a loaded machine (issue 22). TestExecQueryFailures and
		// TestQueryViewBounded prove the timeout.
		tc.limits.StatementTimeout = testutil.Wait
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res, err := tools.ExecQuery(context.Background(), pool, schema, tc.sql, tc.limits)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantRows >= 0 && res.RowCount != tc.wantRows {
				t.Errorf("rows = %d, want %d", res.RowCount, tc.wantRows)
			}
			if len(res.Rows) != res.RowCount {
				t.Errorf("len(rows)=%d row_count=%d", len(res.Rows), res.RowCount)
			}
			if res.Truncated != (tc.wantReason != "") || res.TruncatedReason != tc.wantReason {
				t.Errorf("truncated=%v reason=%q, want reason %q", res.Truncated, res.TruncatedReason, tc.wantReason)
			}
			if tc.limits.MaxBytes > 0 {
				b, _ := json.Marshal(res.Rows)
				if len(b) > 2*tc.limits.MaxBytes || res.RowCount == 0 {
					t.Errorf("byte budget %d: %d rows, %d JSON bytes", tc.limits.MaxBytes, res.RowCount, len(b))
				}
			}
			// Bounded memory: a few times the byte budget plus one 10 MB row, never the whole result.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("allocated %d MB for one query", alloc>>20)
			}
			assertCleanConn(t, pool)
		})
	}
}

func TestExecQueryFailures(t *testing.T) {
	t.Parallel()
	db, pool := fixture(t)
	cases := []struct {
		name   string
		sql    string
		limits tools.Limits
		want   string
	}{
		{"slow view times out", "SELECT * FROM slow", tools.Limits{StatementTimeout: 300 * time.Millisecond}, tools.ErrTimeout},
		{"write through a view function", "SELECT * FROM writes", tools.Limits{}, tools.ErrReadOnly},
		{"nextval", "SELECT nextval('agent_mv.seq')", tools.Limits{}, tools.ErrReadOnly},
		{"stacked statements never run", "SELECT 1; DROP TABLE public.orders", tools.Limits{}, tools.ErrSyntax},
		{"commit smuggling", "SELECT 1; COMMIT; DELETE FROM public.orders", tools.Limits{}, tools.ErrSyntax},
		{"unknown relation", "SELECT * FROM nope", tools.Limits{}, tools.ErrUnknownView},
		{"unknown column", "SELECT nope FROM thousand", tools.Limits{}, tools.ErrQuery},
		{"runtime error mid-fetch", "SELECT 1 / (n - 500) FROM thousand", tools.Limits{}, tools.ErrQuery},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tools.ExecQuery(context.Background(), pool, schema, tc.sql, tc.limits)
			if err == nil {
				t.Fatal("want an error")
			}
			if got := tools.ErrorTypeOf(err); got != tc.want {
				t.Errorf("error type = %s, want %s (%v)", got, tc.want, err)
			}
			assertCleanConn(t, pool)
		})
	}
	// Nothing was written or dropped.
	var orders, counter int
	if err := pool.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM public.orders), (SELECT count(*) FROM agent_mv.counter)").Scan(&orders, &counter); err != nil {
		t.Fatal(err)
	}
	if orders != 1000 || counter != 0 {
		t.Errorf("side effects: orders=%d counter=%d", orders, counter)
	}
	_ = db
}

// search_path puts the target schema before pg_catalog: an unqualified name that the guard
// accepted as managed resolves to the managed view even when a catalog relation has that name.
func TestExecQueryResolvesTargetSchemaFirst(t *testing.T) {
	t.Parallel()
	_, pool := fixture(t)
	res, err := tools.ExecQuery(context.Background(), pool, schema, "SELECT who FROM pg_class", tools.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]any{{"managed, not the catalog"}}, res.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestExecQueryCanceledContext(t *testing.T) {
	t.Parallel()
	_, pool := fixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := tools.ExecQuery(ctx, pool, schema, "SELECT * FROM slow", tools.Limits{StatementTimeout: 20 * time.Second})
	if got := tools.ErrorTypeOf(err); got != tools.ErrTimeout {
		t.Errorf("error type = %s (%v), want timeout", got, err)
	}
	assertCleanConn(t, pool)
}

// BenchmarkExecQueryVsRaw runs the same 1,000-row SELECT through ExecQuery and through a raw
// pool.Query (decoding every value) and reports the ratio of their times.
func BenchmarkExecQueryVsRaw(b *testing.B) {
	_, pool := fixture(b)
	ctx := context.Background()
	const q = "SELECT n, label, amount FROM agent_mv.thousand"
	raw := func() {
		rows, err := pool.Query(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			if _, err := rows.Values(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if rows.Err() != nil || n != 1000 {
			b.Fatalf("raw: %v, %d rows", rows.Err(), n)
		}
	}
	exec := func() {
		res, err := tools.ExecQuery(ctx, pool, schema, q, tools.Limits{MaxRows: 1000})
		if err != nil || res.RowCount != 1000 {
			b.Fatalf("exec: %v, %d rows", err, res.RowCount)
		}
	}
	raw()
	exec()
	var rawTotal, execTotal time.Duration
	iters := 0
	for b.Loop() {
		iters++
		t0 := time.Now()
		raw()
		t1 := time.Now()
		exec()
		execTotal += time.Since(t1)
		rawTotal += t1.Sub(t0)
	}
	n := float64(iters)
	b.ReportMetric(float64(execTotal.Microseconds())/n, "exec-µs/op")
	b.ReportMetric(float64(rawTotal.Microseconds())/n, "raw-µs/op")
	b.ReportMetric(float64(execTotal)/float64(rawTotal), "exec/raw")
}

// BenchmarkMCPQueryVsRaw calls a tool wrapping ExecQuery through a real in-memory MCP session
// (JSON encoding both ways included) and compares it with raw pool.Query of the same rows.
func BenchmarkMCPQueryVsRaw(b *testing.B) {
	_, pool := fixture(b)
	ctx := context.Background()
	const q = "SELECT n, label, amount FROM agent_mv.thousand"
	type queryIn struct {
		SQL string `json:"sql"`
	}
	reg := tools.NewRegistry()
	if err := reg.Add(tools.New("query", "Run a query.", func(ctx context.Context, in queryIn) (tools.Result, error) {
		return tools.ExecQuery(ctx, pool, schema, in.SQL, tools.Limits{MaxRows: 1000})
	}, tools.ReadOnly(), tools.TextOnly())); err != nil {
		b.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "v0"}, nil)
	reg.Mount(server)
	cs := mcpclient.Connect(b, server, nil)
	raw := func() {
		rows, err := pool.Query(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			if _, err := rows.Values(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if rows.Err() != nil || n != 1000 {
			b.Fatalf("raw: %v, %d rows", rows.Err(), n)
		}
	}
	viaMCP := func() {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "query", Arguments: map[string]any{"sql": q}})
		if err != nil || res.IsError {
			b.Fatalf("mcp: %v %+v", err, res)
		}
	}
	raw()
	viaMCP()
	var rawTotal, mcpTotal time.Duration
	iters := 0
	for b.Loop() {
		iters++
		t0 := time.Now()
		raw()
		t1 := time.Now()
		viaMCP()
		mcpTotal += time.Since(t1)
		rawTotal += t1.Sub(t0)
	}
	n := float64(iters)
	b.ReportMetric(float64(mcpTotal.Microseconds())/n, "mcp-µs/op")
	b.ReportMetric(float64(rawTotal.Microseconds())/n, "raw-µs/op")
	b.ReportMetric(float64(mcpTotal)/float64(rawTotal), "mcp/raw")
}

// The query's prepared statements: at most 64 per connection (the least recently used closed
// first), prepared again when a view changes its columns under a cached plan or when someone
// deallocated them, and none behind a pooler (unnamed statements only).
func TestExecQueryPreparedStatements(t *testing.T) {
	t.Parallel()
	db, pool := fixture(t)
	ctx := context.Background()
	exec := func(sql string) tools.Result {
		t.Helper()
		res, err := tools.ExecQuery(ctx, pool, schema, sql, tools.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return res
	}
	queryStatements := func() int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'agentmv\_q\_%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := range 100 {
		if res := exec(fmt.Sprintf("SELECT n FROM thousand WHERE n = %d", i+1)); res.RowCount != 1 {
			t.Fatalf("query %d: %d rows", i, res.RowCount)
		}
		if n := queryStatements(); n != min(i+1, 64) {
			t.Fatalf("after %d distinct queries: %d prepared query statements, want %d", i+1, n, min(i+1, 64))
		}
	}
	// A recently used statement survives, and runs again from its plan.
	if res := exec("SELECT n FROM thousand WHERE n = 100"); res.RowCount != 1 || queryStatements() != 64 {
		t.Fatalf("reuse: %d rows, %d statements", res.RowCount, queryStatements())
	}

	// A view rebuilt with other columns under the cached plan: prepared again, new columns.
	db.Exec(t, `CREATE VIEW agent_mv.reshaped AS SELECT 1 AS a`)
	if res := exec("SELECT * FROM reshaped"); len(res.Columns) != 1 {
		t.Fatalf("columns %v", res.Columns)
	}
	db.Exec(t, `DROP VIEW agent_mv.reshaped; CREATE VIEW agent_mv.reshaped AS SELECT 'x'::text AS a, 2 AS b`)
	res := exec("SELECT * FROM reshaped")
	if diff := cmp.Diff([][]any{{"x", int32(2)}}, res.Rows); diff != "" || len(res.Columns) != 2 {
		t.Errorf("after the rebuild: columns %v, rows (-want +got):\n%s", res.Columns, diff)
	}

	// Someone deallocated every statement on the connection.
	if _, err := pool.Exec(ctx, "DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	if res := exec("SELECT * FROM reshaped"); res.RowCount != 1 {
		t.Fatalf("after DEALLOCATE ALL: %d rows", res.RowCount)
	}
	assertCleanConn(t, pool)

	// Behind a pooler (no statement cache): nothing named is left on the connection.
	cfg := pool.Config().Copy()
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	unnamed, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer unnamed.Close()
	pool.Close()
	for i := range 3 {
		if _, err := tools.ExecQuery(ctx, unnamed, schema, fmt.Sprintf("SELECT n FROM thousand WHERE n = %d", i+1), tools.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := unnamed.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_statements").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("behind a pooler: %d prepared statements left on the connection", n)
	}
}
