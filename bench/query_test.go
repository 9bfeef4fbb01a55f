package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/tools"
)

// queryFixture is a project with one 1M-row view (events_mv, unique index on id) on 1M base
// rows, its runtime tools mounted on an in-memory MCP session, and a raw pool on the same
// runtime role for the baseline.
type queryFixture struct {
	proj    *project
	reg     *tools.Registry
	session *mcp.ClientSession
	raw     *pgxpool.Pool
}

var queryFix lazy[*queryFixture]

const baseRows = 1_000_000

func getQueryFixture(b *testing.B) *queryFixture {
	return queryFix.get(b, func(tb testing.TB) *queryFixture {
		ctx := context.Background()
		p := newProject(tb, eventsSQL(baseRows))
		p.writeConfig(tb, []view{{name: "events_mv", unique: []string{"id"}, comment: "Every event.",
			sql: "SELECT id, grp, day, amount, label FROM public.events"}})
		p.apply(tb)
		p.db.Exec(tb, "ANALYZE agent_mv.events_mv")
		pr := p.open(tb) // kept open for the process
		reg, err := pr.RuntimeTools(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		return &queryFixture{proj: p, reg: reg, session: mcpSession(tb, reg),
			raw: p.db.PoolFor(tb, p.settings.RuntimeURL)}
	})
}

// mcpSession mounts reg on a go-sdk server and connects a client over in-memory transports:
// every call pays JSON-RPC encoding and decoding both ways, as with a real client.
func mcpSession(tb testing.TB, reg *tools.Registry) *mcp.ClientSession {
	tb.Helper()
	ctx := context.Background()
	server := mcp.NewServer(&mcp.Implementation{Name: "agentmv-bench", Version: "v0"}, nil)
	reg.Mount(server)
	st, ct := mcp.NewInMemoryTransports()
	if _, err := server.Connect(ctx, st, nil); err != nil {
		tb.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench-client", Version: "v0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

// rawQuery runs sql on the pool the way a hand-written host would (pgx's default statement
// cache, every value decoded) and returns the row count.
func rawQuery(b *testing.B, pool *pgxpool.Pool, sql string) int {
	rows, err := pool.Query(context.Background(), sql)
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
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// queryOutput is the part of query_view's result the benchmarks check.
type queryOutput struct {
	RowCount  int  `json:"row_count"`
	Truncated bool `json:"truncated"`
	Freshness []struct {
		View string `json:"view"`
	} `json:"freshness"`
}

// callMCP calls query_view through the MCP session.
func callMCP(b *testing.B, cs *mcp.ClientSession, sql string) queryOutput {
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tools.ToolQueryView, Arguments: map[string]any{"sql": sql}})
	return decodeToolResult(b, res, err)
}

func decodeToolResult(b *testing.B, res *mcp.CallToolResult, err error) queryOutput {
	text := resultText(b, res, err)
	var out queryOutput
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		b.Fatalf("decode %s: %v", text, err)
	}
	return out
}

// resultText is the text of a successful tool result.
func resultText(b *testing.B, res *mcp.CallToolResult, err error) string {
	if err != nil {
		b.Fatal(err)
	}
	if res.IsError || len(res.Content) == 0 {
		b.Fatalf("tool error: %+v", res)
	}
	text, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		b.Fatalf("content %T, want text", res.Content[0])
	}
	return text.Text
}

// BenchmarkQueryView: the query_view tool called through an in-memory MCP session ÷ the same
// SELECT on a raw pgxpool as the same role, for 1 row (index lookup) and 1,000 rows (index
// range). Goal mcp/raw ≤ 1.3. call/raw is the same tool called in process (Registry.Call,
// no MCP), which splits agentmv's own cost from the protocol's.
func BenchmarkQueryView(b *testing.B) {
	for _, tc := range []struct {
		name  string
		where string
		rows  int
	}{
		{"rows=1", "id = 424242", 1},
		{"rows=1000", "id BETWEEN 500001 AND 501000", 1000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := getQueryFixture(b)
			ctx := context.Background()
			sql := "SELECT id, grp, day, amount, label FROM events_mv WHERE " + tc.where
			rawSQL := "SELECT id, grp, day, amount, label FROM agent_mv.events_mv WHERE " + tc.where
			args, _ := json.Marshal(map[string]any{"sql": sql})
			raw := func() {
				if n := rawQuery(b, f.raw, rawSQL); n != tc.rows {
					b.Fatalf("raw: %d rows, want %d", n, tc.rows)
				}
			}
			// The timed calls check the result cheaply (no second JSON decode of the rows, which
			// no real client needs); the warm-up below decodes and checks it fully.
			want := fmt.Sprintf(`"row_count":%d,`, tc.rows)
			call := func() {
				if text := resultText(b, f.reg.Call(ctx, tools.ToolQueryView, args), nil); !strings.Contains(text, want) {
					b.Fatalf("call: %.300s", text)
				}
			}
			viaMCP := func() {
				res, err := f.session.CallTool(ctx, &mcp.CallToolParams{Name: tools.ToolQueryView, Arguments: map[string]any{"sql": sql}})
				if text := resultText(b, res, err); !strings.Contains(text, want) {
					b.Fatalf("mcp: %.300s", text)
				}
			}
			for range 20 { // warm connections, statement caches and plans on every path
				raw()
				call()
				viaMCP()
			}
			if out := callMCP(b, f.session, sql); out.RowCount != tc.rows || out.Truncated || len(out.Freshness) != 1 {
				b.Fatalf("mcp: %+v", out)
			}
			var m, c pairs
			i := 0
			for b.Loop() {
				var tr, tc, tm time.Duration
				switch i % 3 { // rotate the order so drift favours no path
				case 0:
					tr, tc, tm = timed(raw), timed(call), timed(viaMCP)
				case 1:
					tc, tm, tr = timed(call), timed(viaMCP), timed(raw)
				default:
					tm, tr, tc = timed(viaMCP), timed(raw), timed(call)
				}
				m.add(tm, tr)
				c.add(tc, tr)
				i++
			}
			m.report(b, "mcp", "raw", "µs")
			b.ReportMetric(medianDuration(c.a)/float64(time.Microsecond), "call-µs/op")
			b.ReportMetric(c.ratio(), "call/raw")
		})
	}
}

var memFix lazy[*queryFixture]

const memRows = 10_000_000

// BenchmarkQueryViewMemory: query_view (through MCP, default caps: 1,000 rows, 1 MiB) of
// SELECT * on a 10M-row view, with the process' peak RSS growth reported. Goal < 64 MiB: the
// cursor never lets the server send more than the caps, whatever the view's size.
func BenchmarkQueryViewMemory(b *testing.B) {
	f := memFix.get(b, func(tb testing.TB) *queryFixture {
		p := newProject(tb, "CREATE TABLE public.seed AS SELECT 1 AS one")
		p.writeConfig(tb, []view{{name: "ten_million", comment: "10M generated rows.",
			sql: fmt.Sprintf("SELECT g AS id, g %% 1000 AS grp, 'payload-' || g AS payload, s.one FROM generate_series(1, %d) AS g CROSS JOIN public.seed AS s", memRows)}})
		p.apply(tb)
		reg, err := p.open(tb).RuntimeTools(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		return &queryFixture{proj: p, reg: reg, session: mcpSession(tb, reg)}
	})
	ctx := context.Background()
	var n int64
	if err := f.proj.admin.QueryRow(ctx, "SELECT count(*) FROM agent_mv.ten_million").Scan(&n); err != nil || n != memRows {
		b.Fatalf("ten_million has %d rows (%v), want %d", n, err, memRows)
	}
	call := func() {
		out := callMCP(b, f.session, "SELECT * FROM ten_million")
		if out.RowCount != tools.DefaultMaxRows || !out.Truncated {
			b.Fatalf("query_view: %+v, want %d rows, truncated", out, tools.DefaultMaxRows)
		}
	}
	call() // warm: code paths, pools, caches
	before := resetPeakRSS(b)
	heapBefore := heapInuse()
	for b.Loop() {
		call()
	}
	growth := float64(peakRSS(b)-before) / (1 << 20)
	b.ReportMetric(growth, "rss-growth-MiB")
	b.ReportMetric(float64(heapInuse()-heapBefore)/(1<<20), "heap-growth-MiB")
	if growth >= 64 {
		b.Errorf("peak RSS grew by %.1f MiB over the run, goal < 64 MiB", growth)
	}
}
