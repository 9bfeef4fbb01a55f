package agentmv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/test/mcpclient"
)

// demoTools are declared tools over the demo's views (appended to its materialize.yaml).
const demoTools = `tools:
  - name: customer_by_email
    description: One customer's orders and lifetime spend, by email.
    sql: |
      SELECT customer_id, order_count, lifetime_value_cents
        FROM customer_rollup WHERE email = @email
    parameters:
      - {name: email, type: string, required: true, max_length: 200}
  - name: revenue_on
    description: Units and revenue per product on the given days.
    sql: SELECT day, sku, units_sold FROM daily_revenue WHERE day = ANY(@days) ORDER BY day, sku
    parameters:
      - {name: days, type: "date[]", required: true}
`

// mountProject serves the project's runtime tools (Project.RuntimeTools, as the runtime role)
// on an in-memory MCP session.
func mountProject(t *testing.T, p *agentmv.Project) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	reg, err := p.RuntimeTools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	reg.Mount(server)
	return mcpclient.Connect(t, server, nil)
}

func callText(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("CallTool(%s): %v", name, err)
	}
	return res.Content[0].(*mcp.TextContent).Text, res.IsError
}

func TestDeclaredToolsFromYAML(t *testing.T) {
	pr := demoProject(t)
	pr.write("materialize.yaml", string(testutil.ReadFile(t, pr.dir+"/materialize.yaml"))+demoTools)
	pr.apply()
	cs := mountProject(t, pr.open())
	out, isErr := callText(t, cs, "customer_by_email", map[string]any{"email": "bob@example.com"})
	var res struct {
		Rows [][]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &res); isErr || err != nil {
		t.Fatalf("customer_by_email: %s (%v)", out, err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] != float64(2) || res.Rows[0][1] != float64(1) || res.Rows[0][2] != float64(9900) {
		t.Errorf("customer_by_email(bob) rows = %v, want [[2 1 9900]]", res.Rows)
	}
	out, isErr = callText(t, cs, "revenue_on", map[string]any{"days": []string{"2025-12-20", "2025-12-25"}})
	if err := json.Unmarshal([]byte(out), &res); isErr || err != nil {
		t.Fatalf("revenue_on: %s (%v)", out, err)
	}
	if len(res.Rows) != 2 || res.Rows[0][1] != "SKU-001" || res.Rows[1][1] != "SKU-002" {
		t.Errorf("revenue_on rows = %v", res.Rows)
	}
	if out, isErr = callText(t, cs, "customer_by_email", map[string]any{"email": "x' OR 'x'='x"}); isErr || !strings.Contains(out, `"row_count":0`) {
		t.Errorf("injection through email: %s", out)
	}
}

// budgetTools are three realistic declared tools (the README's two, with described
// parameters, and a third with a timestamp, a bound and an enum).
const budgetTools = `tools:
  - name: customer_by_email
    description: One customer's orders and lifetime spend, by email.
    sql: |
      SELECT customer_id, order_count, lifetime_value_cents
        FROM customer_rollup WHERE email = @email
    parameters:
      - {name: email, type: string, required: true, max_length: 200, description: The customer's email address (exact match)}
  - name: revenue_on
    description: Units sold and gross revenue per product on the given days, most units first.
    sql: |
      SELECT day, sku, units_sold, gross_revenue_cents FROM daily_revenue
       WHERE day = ANY(@days) ORDER BY units_sold DESC, sku LIMIT @top
    parameters:
      - {name: days, type: "date[]", required: true, description: The days to report (UTC)}
      - {name: top, type: integer, default: 10, min: 1, max: 100, description: Most rows to return}
  - name: top_spenders_since
    description: Customers who ordered since a given time, by lifetime spend, above a minimum spend.
    sql: |
      SELECT customer_id, email, lifetime_value_cents, last_order_at FROM customer_rollup
       WHERE last_order_at >= @since AND lifetime_value_cents >= @min_cents
       ORDER BY lifetime_value_cents DESC LIMIT @n
    parameters:
      - {name: since, type: timestamp, required: true, description: Only customers whose latest order is at or after this time}
      - {name: min_cents, type: integer, default: 0, min: 0, description: Least lifetime spend in cents}
      - {name: n, type: integer, default: 10, enum: [5, 10, 25], description: How many customers}
`

// TestToolsListWithDeclaredToolsFitsBudget: the runtime tools/list, with three realistic
// declared tools next to the five built-ins, fits the 8 KB token budget (the whole JSON-RPC
// response, as sent over a real MCP session).
func TestToolsListWithDeclaredToolsFitsBudget(t *testing.T) {
	pr := demoProject(t)
	pr.write("materialize.yaml", string(testutil.ReadFile(t, pr.dir+"/materialize.yaml"))+budgetTools)
	pr.apply()
	cs := mountProject(t, pr.open())
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Tools) != 8 {
		t.Fatalf("tools/list has %d tools, want the 5 built-ins and 3 declared", len(lt.Tools))
	}
	msg, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "result": lt})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("runtime tools/list with three declared tools: %d bytes (budget 8192)", len(msg))
	if len(msg) > 8192 {
		t.Errorf("runtime tools/list with three declared tools is %d bytes, budget 8192", len(msg))
	}
	// The tools work as listed (the budget is not bought by a broken tool).
	out, isErr := callText(t, cs, "top_spenders_since", map[string]any{"since": "2025-12-01T00:00:00Z"})
	if isErr || !strings.Contains(out, `"row_count":2`) {
		t.Errorf("top_spenders_since: %s", out)
	}
}

// TestDeclaredToolOverBaseTableRefusedAtPlan: plan (which loads the config) refuses a tool
// that reads a base table, with the YAML line.
func TestDeclaredToolOverBaseTableRefusedAtPlan(t *testing.T) {
	pr := demoProject(t)
	yaml := string(testutil.ReadFile(t, pr.dir+"/materialize.yaml"))
	line := strings.Count(yaml, "\n") + 4
	pr.write("materialize.yaml", yaml+"tools:\n  - name: emails\n    description: all emails\n    sql: SELECT email FROM public.users\n")
	_, err := agentmv.Open(context.Background(), agentmv.Options{ConfigPath: pr.dir + "/materialize.yaml", DotenvPath: "-",
		Overrides: pr.settings, Environ: func(string) (string, bool) { return "", false }})
	want := "line " + strconv.Itoa(line) + `: tool "emails": sql: relation public.users is outside schema agent_mv`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("open = %v, want %q", err, want)
	}
}

// TestRunningServerNoticesToolChanges: a runtime server (OpenRuntime + WatchTools, as the
// entry points run it) drops a tool removed from materialize.yaml from tools/list, tells the
// client (tools/list_changed), and serves a changed declaration; an invalid edit keeps the
// tools as they were.
func TestRunningServerNoticesToolChanges(t *testing.T) {
	pr := demoProject(t)
	path := pr.dir + "/materialize.yaml"
	pr.write("materialize.yaml", string(testutil.ReadFile(t, path))+demoTools)
	pr.apply()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, server := mountDeclaredTools(ctx, t, pr)
	var changed atomic.Int32
	cs := mcpclient.Connect(t, server, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed.Add(1) },
	})
	done := make(chan struct{})
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	go func() { defer close(done); rt.WatchTools(ctx, path, 20*time.Millisecond, logger) }()
	defer func() { cancel(); <-done }()

	listed := func() map[string]string {
		lt, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, tl := range lt.Tools {
			m[tl.Name] = tl.Description
		}
		return m
	}
	if _, ok := listed()["revenue_on"]; !ok {
		t.Fatal("revenue_on not listed at start")
	}
	// An invalid edit (a tool over a base table) changes nothing.
	pr.edit("materialize.yaml", "FROM daily_revenue WHERE", "FROM public.payments WHERE")
	testutil.WaitFor(t, 30*time.Second, "the watcher to refuse the invalid edit", func() (bool, error) {
		return strings.Contains(logs.String(), "relation public.payments is outside schema"), nil
	})
	if _, ok := listed()["revenue_on"]; !ok || changed.Load() != 0 {
		t.Fatalf("an invalid edit changed the tools (list_changed %d)", changed.Load())
	}
	pr.edit("materialize.yaml", "FROM public.payments WHERE", "FROM daily_revenue WHERE")
	pr.edit("materialize.yaml", "One customer's orders", "Orders")
	// Remove revenue_on: everything from its entry to the end of the file.
	yaml := string(testutil.ReadFile(t, path))
	pr.write("materialize.yaml", yaml[:strings.Index(yaml, "  - name: revenue_on")])
	testutil.WaitFor(t, 30*time.Second, "revenue_on to leave tools/list", func() (bool, error) {
		m := listed()
		_, still := m["revenue_on"]
		return !still && strings.HasPrefix(m["customer_by_email"], "Orders and lifetime spend"), nil
	})
	if changed.Load() == 0 {
		testutil.WaitFor(t, 30*time.Second, "notifications/tools/list_changed", func() (bool, error) { return changed.Load() > 0, nil })
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "revenue_on", Arguments: map[string]any{"days": []string{"2025-12-20"}}}); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Errorf("a removed tool: %v, want unknown tool", err)
	}
	if out, isErr := callText(t, cs, "customer_by_email", map[string]any{"email": "bob@example.com"}); isErr {
		t.Errorf("customer_by_email after the reload: %s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for the watcher's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDashboardListsTools: the dashboard lists the declared tools with their description,
// the views each reads and its parameters (type, required, default, description).
func TestDashboardListsTools(t *testing.T) {
	pr := demoProject(t)
	pr.write("materialize.yaml", string(testutil.ReadFile(t, pr.dir+"/materialize.yaml"))+budgetTools)
	pr.apply()
	var html bytes.Buffer
	if err := pr.open().BuildDashboard(context.Background(), &html, time.Now()); err != nil {
		t.Fatal(err)
	}
	page := html.String()
	for _, want := range []string{
		"<h2>Tools (3)</h2>",
		`<td class="name"><code>revenue_on</code><div class="desc">Units sold and gross revenue per product on the given days, most units first.</div></td>`,
		`<td class="mono src">daily_revenue</td>`,
		`<dt><code>days</code> <span class="muted">date[], required</span></dt><dd>The days to report (UTC)</dd>`,
		`<dt><code>top</code> <span class="muted">integer, default 10</span></dt><dd>Most rows to return</dd>`,
		`<dt><code>since</code> <span class="muted">timestamp, required</span></dt>`,
		`<code>customer_by_email</code><div class="desc">One customer&#39;s orders and lifetime spend, by email.</div>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
}

// TestRunningServerNoticesSQLFileEdit: editing only a tool's sql_file (materialize.yaml
// unchanged) reaches a running server: the tool runs the new SQL and clients are told
// (tools/list_changed); an invalid edit of the file keeps the tool as it was.
func TestRunningServerNoticesSQLFileEdit(t *testing.T) {
	pr := demoProject(t)
	path := pr.dir + "/materialize.yaml"
	const sqlFile = "materialize/tool_revenue_on.sql"
	pr.write(sqlFile, "SELECT day, sku, units_sold FROM daily_revenue WHERE day = ANY(@days) ORDER BY day, sku\n")
	pr.write("materialize.yaml", string(testutil.ReadFile(t, path))+`tools:
  - name: revenue_on
    description: Units sold per product on the given days.
    sql_file: `+sqlFile+`
    parameters:
      - {name: days, type: "date[]", required: true}
`)
	pr.apply()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, server := mountDeclaredTools(ctx, t, pr)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := server.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	var changed atomic.Int32
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed.Add(1) },
	}).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cs.Close(); _ = ss.Wait() }()
	done := make(chan struct{})
	var logs syncBuffer
	go func() {
		defer close(done)
		rt.WatchTools(ctx, path, 20*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	defer func() { cancel(); <-done }()

	rowCount := func() string {
		out, isErr := callText(t, cs, "revenue_on", map[string]any{"days": []string{"2025-12-20", "2025-12-25"}})
		if isErr {
			t.Fatalf("revenue_on: %s", out)
		}
		var res struct {
			RowCount int `json:"row_count"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		return strconv.Itoa(res.RowCount)
	}
	if n := rowCount(); n != "2" {
		t.Fatalf("revenue_on rows at start = %s, want 2", n)
	}
	// An invalid edit of the file (a base table) is refused and changes nothing.
	pr.edit(sqlFile, "FROM daily_revenue WHERE", "FROM public.payments WHERE")
	testutil.WaitFor(t, 30*time.Second, "the watcher to refuse the invalid sql_file", func() (bool, error) {
		return strings.Contains(logs.String(), "relation public.payments is outside schema"), nil
	})
	if n := rowCount(); n != "2" || changed.Load() != 0 {
		t.Fatalf("an invalid sql_file edit changed the tool: %s rows, list_changed %d", n, changed.Load())
	}
	// A valid edit of the file only: the tool runs the new SQL.
	pr.edit(sqlFile, "FROM public.payments WHERE day = ANY(@days)", "FROM daily_revenue WHERE day = ANY(@days) AND sku = 'SKU-002'")
	testutil.WaitFor(t, 30*time.Second, "revenue_on to run the edited sql_file", func() (bool, error) {
		return rowCount() == "1", nil
	})
	testutil.WaitFor(t, 30*time.Second, "notifications/tools/list_changed", func() (bool, error) { return changed.Load() > 0, nil })
}

// mountDeclaredTools opens pr's runtime with the tools its materialize.yaml declares and mounts
// it on a new MCP server; the runtime closes at the end of the test.
func mountDeclaredTools(ctx context.Context, t *testing.T, pr *project) (*agentmv.Runtime, *mcp.Server) {
	t.Helper()
	s := pr.open().Settings()
	rt, err := agentmv.OpenRuntime(ctx, s.RuntimeURL, agentmv.RuntimeOptions{Schema: s.TargetSchema, Tools: s.Tools})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	server := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	rt.Tools().Mount(server)
	return rt, server
}
