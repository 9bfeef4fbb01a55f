package agentmv_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

// twoAgents is the agents list of the two-agent tests: disjoint views (support reads a view
// and the view built on it; finance reads the revenue view).
const twoAgents = `
agents:
  - name: support
    description: Customer support assistant
    views: [customer_rollup, top_customers_30d]
    token_env: SUPPORT_MCP_TOKEN
  - name: finance
    description: Finance analyst
    views: [daily_revenue]
    token_env: FINANCE_MCP_TOKEN
`

// agentsProject is the demo project with the two agents of twoAgents, applied.
func agentsProject(t *testing.T) *project {
	t.Helper()
	pr := demoProject(t)
	pr.edit("materialize.yaml", "\nviews:\n", twoAgents+"views:\n")
	pr.settings.AgentPasswords = map[string]string{"support": "support-pw-1", "finance": "finance-pw-1"}
	pr.settings.AgentTokens = map[string]string{"support": "support-token-abc", "finance": "finance-token-xyz"}
	return pr
}

// agentConn logs in as agent's role over TCP with its password.
func agentConn(t *testing.T, pr *project, agent string) *pgx.Conn {
	t.Helper()
	dsn, err := pr.open().Settings().AgentURL(agent)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("agent %s: log in over TCP: %v", agent, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// strings1 reads one text column.
func strings1(t *testing.T, conn interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// statusMark reads <S>.refresh_status_mark, checking that it is one row of one column.
func statusMark(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT * FROM agent_mv.refresh_status_mark")
	if err != nil {
		t.Fatalf("read the status mark: %v", err)
	}
	if fields := rows.FieldDescriptions(); len(fields) != 1 || fields[0].Name != "mark" {
		t.Errorf("status mark columns %v, want one: mark", fields)
	}
	marks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(marks) != 1 {
		t.Fatalf("status mark: %q, %v; want one row", marks, err)
	}
	return marks[0]
}

// isMD5 reports whether s is 32 lowercase hex digits.
func isMD5(s string) bool {
	return len(s) == 32 && strings.Trim(s, "0123456789abcdef") == ""
}

// TestAgentRolesBoundary applies two agents with disjoint views and attacks as each agent's
// role over TCP: it reads and refreshes its own views and sees only the metadata rows about
// them; every other view, every base table and the other roles are refused by Postgres. The
// same statements work as the runtime role (which reads every view) or the admin, so each
// refusal could have been a success.
func TestAgentRolesBoundary(t *testing.T) {
	pr := agentsProject(t)
	ctx := context.Background()
	res := pr.apply()
	support, finance := pr.settings.RuntimeRole+"_support", pr.settings.RuntimeRole+"_finance"
	if got := slices.Sorted(slices.Values(res.Agents.CreatedRoles)); !slices.Equal(got, []string{finance, support}) {
		t.Fatalf("created roles %v, want %s and %s", got, finance, support)
	}
	// A second apply changes nothing.
	if again := pr.apply(); len(again.Agents.CreatedRoles)+len(again.Agents.DroppedRoles)+len(again.Agents.Changes) != 0 {
		t.Errorf("second apply changed agents: %+v", again.Agents)
	}

	own := map[string][]string{"support": {"customer_rollup", "top_customers_30d"}, "finance": {"daily_revenue"}}
	other := map[string]string{"support": "daily_revenue", "finance": "customer_rollup"}
	otherRole := map[string]string{"support": finance, "finance": support}
	runtime, err := pgx.Connect(ctx, pr.settings.RuntimeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.Close(ctx)
	for _, agent := range []string{"support", "finance"} {
		t.Run(agent, func(t *testing.T) {
			conn := agentConn(t, pr, agent)
			for _, v := range own[agent] {
				if _, err := conn.Exec(ctx, "SELECT * FROM agent_mv."+v); err != nil {
					t.Errorf("read own view %s: %v", v, err)
				}
			}
			// Its sessions start with the runtime role's limits: read-only, timeouts.
			var readOnly, timeout string
			if err := conn.QueryRow(ctx, "SELECT current_setting('default_transaction_read_only'), current_setting('statement_timeout')").Scan(&readOnly, &timeout); err != nil || readOnly != "on" || timeout != "30s" {
				t.Errorf("session defaults of %s: read only %q, statement_timeout %q, %v; want on, 30s", agent, readOnly, timeout, err)
			}
			var connLimit int
			if err := pr.admin.QueryRow(ctx, "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", pr.settings.RuntimeRole+"_"+agent).Scan(&connLimit); err != nil || connLimit != 32 {
				t.Errorf("connection limit of %s's role: %d, %v; want 32", agent, connLimit, err)
			}
			// A refresh needs a READ WRITE transaction, as for the runtime role.
			var status string
			err := pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{AccessMode: pgx.ReadWrite}, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, "SELECT agent_mv.refresh_view($1)->>'status'", own[agent][0]).Scan(&status)
			})
			if err != nil || status != "success" {
				t.Errorf("refresh own view %s: status %q, %v", own[agent][0], status, err)
			}
			// An attacker lifts the read-only default in its own session: the privileges below
			// must refuse on their own.
			if _, err := conn.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
				t.Fatal(err)
			}
			attacks := []struct {
				name, sql string
				code      string
			}{
				{"read the other agent's view", "SELECT * FROM agent_mv." + other[agent], "42501"},
				{"read a base table", "SELECT * FROM public.payments", "42501"},
				{"refresh the other agent's view", "SELECT agent_mv.refresh_view('" + other[agent] + "')", "42704"},
				{"become the other agent", "SET ROLE " + pgx.Identifier{otherRole[agent]}.Sanitize(), "42501"},
				{"become the runtime role", "SET ROLE " + pgx.Identifier{pr.settings.RuntimeRole}.Sanitize(), "42501"},
				{"write the registry", "DELETE FROM agent_mv.views", "42501"},
				{"read the agents table", "SELECT * FROM agent_mv.agent_roles", "42501"},
				{"disable row security", "ALTER TABLE agent_mv.views DISABLE ROW LEVEL SECURITY", "42501"},
				{"grant itself the other view", "GRANT SELECT ON agent_mv." + other[agent] + " TO CURRENT_USER", "42501"},
				{"redefine the status mark to show the history", "CREATE OR REPLACE VIEW agent_mv.refresh_status_mark AS SELECT string_agg(view_name, ',') AS mark FROM agent_mv.refresh_history", "42501"},
				{"take the status mark over", "ALTER VIEW agent_mv.refresh_status_mark OWNER TO CURRENT_USER", "42501"},
			}
			for _, a := range attacks {
				_, err := conn.Exec(ctx, a.sql)
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Code != a.code {
					t.Errorf("%s: %s: got %v, want SQLSTATE %s", a.name, a.sql, err, a.code)
				}
			}
			// The metadata tables show only rows about its own views.
			for _, q := range []string{
				"SELECT name FROM agent_mv.views",
				"SELECT view_name FROM agent_mv.lineage",
				"SELECT view_name FROM agent_mv.column_lineage",
				"SELECT view_name FROM agent_mv.refresh_history",
			} {
				if got := strings1(t, conn, q); !slices.Equal(got, own[agent]) {
					t.Errorf("%s as %s: %v, want %v", q, agent, got, own[agent])
				}
			}
			if got := strings1(t, conn, "SELECT source_name FROM agent_mv.lineage WHERE source_kind = 'view'"); slices.Contains(got, other[agent]) {
				t.Errorf("lineage names the other agent's view: %v", got)
			}
			// The status mark (read without the row filters, as the owner) is one md5: it says
			// that some status changed, and nothing else.
			if got := statusMark(t, conn); !isMD5(got) {
				t.Errorf("status mark as %s: %q, want one md5", agent, got)
			}
		})
	}
	// It changes for an agent when a view it cannot see is refreshed: a change signal that
	// never hides a change (the agent rereads its own status, and sees no more than before).
	supportConn := agentConn(t, pr, "support")
	before := statusMark(t, supportConn)
	var status string
	if err := pgx.BeginTxFunc(ctx, runtime, pgx.TxOptions{AccessMode: pgx.ReadWrite}, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT agent_mv.refresh_view('daily_revenue')->>'status'").Scan(&status)
	}); err != nil || status != "success" {
		t.Fatalf("refresh daily_revenue as the runtime role: %q, %v", status, err)
	}
	if after := statusMark(t, supportConn); after == before {
		t.Errorf("support's status mark %q did not change when finance's view was refreshed", after)
	}
	// The same reads work as the runtime role, which reads every view: the refusals above were
	// the agents' roles, not broken views.
	for _, v := range []string{"customer_rollup", "daily_revenue", "top_customers_30d"} {
		if _, err := runtime.Exec(ctx, "SELECT * FROM agent_mv."+v); err != nil {
			t.Errorf("runtime role reads %s: %v", v, err)
		}
	}
	if got := strings1(t, runtime, "SELECT name FROM agent_mv.views"); len(got) != 3 {
		t.Errorf("runtime role sees %v in the registry, want all three views", got)
	}
}

// TestAgentRuntimeTools serves the runtime tools as each agent's role: list_views,
// describe_view, query_view, refresh_view and get_lineage show and accept only its views.
func TestAgentRuntimeTools(t *testing.T) {
	pr := agentsProject(t)
	pr.apply()
	ctx := context.Background()
	s := pr.open().Settings()
	dsn, err := s.AgentURL("finance")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := agentmv.OpenRuntime(ctx, dsn, agentmv.RuntimeOptions{})
	if err != nil {
		t.Fatalf("open the runtime tools as finance: %v", err)
	}
	defer rt.Close()
	reg := rt.Tools()
	call := func(tool, args string) (string, bool) {
		res := reg.Call(ctx, tool, json.RawMessage(args))
		return res.Content[0].(*mcp.TextContent).Text, res.IsError
	}
	if text, isErr := call(tools.ToolListViews, `{}`); isErr || !strings.Contains(text, "daily_revenue") || strings.Contains(text, "customer_rollup") || strings.Contains(text, "top_customers") {
		t.Errorf("list_views as finance: %s", text)
	}
	if text, isErr := call(tools.ToolQueryView, `{"sql":"SELECT count(*) FROM daily_revenue"}`); isErr {
		t.Errorf("query own view: %s", text)
	}
	for _, c := range []struct{ tool, args string }{
		{tools.ToolQueryView, `{"sql":"SELECT * FROM customer_rollup"}`},
		{tools.ToolQueryView, `{"sql":"SELECT * FROM agent_mv.top_customers_30d"}`},
		{tools.ToolDescribeView, `{"name":"customer_rollup"}`},
		{tools.ToolRefreshView, `{"name":"customer_rollup"}`},
		{tools.ToolGetLineage, `{"name":"top_customers_30d"}`},
	} {
		text, isErr := call(c.tool, c.args)
		if !isErr {
			t.Errorf("%s %s as finance succeeded: %s", c.tool, c.args, text)
		}
	}
	if text, isErr := call(tools.ToolRefreshView, `{"name":"daily_revenue"}`); isErr {
		t.Errorf("refresh own view: %s", text)
	}
}

// TestAgentsChange moves a view between agents and removes an agent: the grants follow the
// file, and the removed agent's role is dropped.
func TestAgentsChange(t *testing.T) {
	pr := agentsProject(t)
	pr.apply()
	ctx := context.Background()
	pr.edit("materialize.yaml", "views: [customer_rollup, top_customers_30d]", "views: [customer_rollup]")
	pr.edit("materialize.yaml", `  - name: finance
    description: Finance analyst
    views: [daily_revenue]
    token_env: FINANCE_MCP_TOKEN
`, "")
	res := pr.apply()
	finance := pr.settings.RuntimeRole + "_finance"
	if !slices.Equal(res.Agents.DroppedRoles, []string{finance}) {
		t.Errorf("dropped roles %v, want [%s]", res.Agents.DroppedRoles, finance)
	}
	var n int
	if err := pr.admin.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", finance).Scan(&n); err != nil || n != 0 {
		t.Errorf("role %s still exists (%d, %v)", finance, n, err)
	}
	conn := agentConn(t, pr, "support")
	_, err := conn.Exec(ctx, "SELECT * FROM agent_mv.top_customers_30d")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("support still reads top_customers_30d after it left its list: %v", err)
	}
	if got := strings1(t, conn, "SELECT name FROM agent_mv.views"); !slices.Equal(got, []string{"customer_rollup"}) {
		t.Errorf("registry as support: %v", got)
	}
	if got := strings1(t, pr.admin, "SELECT name FROM agent_mv.agent_roles"); !slices.Equal(got, []string{"support"}) {
		t.Errorf("agent_roles: %v", got)
	}
}

// TestAgentsDoctor: doctor is green with two agents, then red once one agent's role is
// granted the other's view.
func TestAgentsDoctor(t *testing.T) {
	pr := agentsProject(t)
	pr.apply()
	ctx := context.Background()
	rep, err := pr.open().Doctor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	support := pr.settings.RuntimeRole + "_support"
	for _, want := range []string{
		"agent support (role " + support + ") reads exactly its 2 views",
		"agent support (role " + support + ") may open at most 32 connections",
		"no other path to data for agent support's role " + support,
		"no other path to data for agent finance's role",
	} {
		if !rep.OK() || !strings.Contains(rep.String(), want) {
			t.Fatalf("doctor with two agents does not say %q:\n%s", want, rep)
		}
	}
	pr.db.Exec(t, "GRANT SELECT ON agent_mv.daily_revenue TO "+pgx.Identifier{pr.settings.RuntimeRole + "_support"}.Sanitize())
	rep, err = pr.open().Doctor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(rep.String(), "can read agent_mv.daily_revenue") {
		t.Fatalf("doctor after granting support finance's view:\n%s", rep)
	}
	// apply repairs it.
	if res := pr.apply(); len(res.Agents.Changes) == 0 {
		t.Errorf("apply did not revoke the stray grant: %+v", res.Agents)
	}
	if rep, _ := pr.open().Doctor(ctx); !rep.OK() {
		t.Errorf("doctor after apply:\n%s", rep)
	}

	// An agent's session holding a refresh lock while idle blocks refreshes like a runtime
	// session would: ✗ under the agent's name, with the statement that ends it.
	if !strings.Contains(rep.String(), "no session of "+support+" holds an advisory lock") {
		t.Errorf("doctor does not check the sessions of %s:\n%s", support, rep)
	}
	conn := agentConn(t, pr, "support")
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext('agentmv:' || 'agent_mv'), hashtext('customer_rollup'))`); err != nil {
		t.Fatal(err)
	}
	object := fmt.Sprintf("session %d of %s", conn.PgConn().PID(), support)
	if rep, _ := pr.open().Doctor(ctx); rep.OK() || !strings.Contains(rep.String(), object) || !strings.Contains(rep.String(), "refresh lock of view customer_rollup") {
		t.Errorf("doctor with an idle %s session holding customer_rollup's refresh lock:\n%s", support, rep)
	}
	// Released synchronously (a closed connection's backend may linger a moment).
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
		t.Fatal(err)
	}

	// The agent's role gets the runtime role's limits and exposure probes: a lifted connection
	// limit and a large object granted to it by name are ✗ under the agent's name (the runtime
	// role's own probes stay green), and apply restores the limit and reports the exposure.
	var lo uint32
	if err := pr.admin.QueryRow(ctx, "SELECT lo_from_bytea(0, 'finance secret')").Scan(&lo); err != nil {
		t.Fatal(err)
	}
	pr.db.Exec(t, fmt.Sprintf("ALTER ROLE %s CONNECTION LIMIT -1; ALTER ROLE %[1]s SET statement_timeout = 0; GRANT SELECT ON LARGE OBJECT %d TO %[1]s",
		pgx.Identifier{support}.Sanitize(), lo))
	rep, err = pr.open().Doctor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]boundary.Check{}
	for _, c := range rep.Checks {
		if c.Status == boundary.CheckFail {
			failed[c.Name] = c
		}
	}
	if c, ok := failed["agent support limits"]; !ok || len(c.Findings) != 2 {
		t.Errorf("doctor after lifting support's limits: %+v\n%s", c, rep)
	}
	if c, ok := failed["agent support: direct grants"]; !ok || !strings.Contains(fmt.Sprint(c.Findings), fmt.Sprint(lo)) {
		t.Errorf("doctor does not report the large object granted to support: %+v\n%s", c, rep)
	}
	if len(failed) != 2 {
		t.Errorf("failing checks %v, want only support's limits and direct grants\n%s", slices.Sorted(maps.Keys(failed)), rep)
	}
	res := pr.apply()
	if !slices.ContainsFunc(res.Agents.Changes, func(c string) bool { return strings.Contains(c, "CONNECTION LIMIT 32 on role "+support) }) {
		t.Errorf("apply did not restore support's connection limit: %v", res.Agents.Changes)
	}
	if !slices.ContainsFunc(res.Exposures, func(c boundary.Check) bool { return c.Name == "agent support: direct grants" }) {
		t.Errorf("apply did not report support's exposure: %+v", res.Exposures)
	}
	for _, f := range failed["agent support: direct grants"].Findings {
		pr.db.Exec(t, f.Fix)
	}
	if rep, _ := pr.open().Doctor(ctx); !rep.OK() {
		t.Errorf("doctor after apply and the printed fix:\n%s", rep)
	}
}

// agentDeclaredTools are two declared tools, one over each agent's views.
const agentDeclaredTools = `
tools:
  - name: top_spenders
    description: The top customers by lifetime spend.
    sql: SELECT customer_id, lifetime_value_cents FROM top_customers_30d ORDER BY lifetime_value_cents DESC LIMIT @n
    parameters:
      - {name: n, type: integer, required: true, min: 1, max: 10}
  - name: revenue_on
    description: Revenue of one day.
    sql: SELECT day, sum(gross_revenue_cents) AS cents FROM daily_revenue WHERE day = @day GROUP BY day
    parameters:
      - {name: day, type: date, required: true}
`

// agentSession connects an MCP client (in memory) to agent's runtime server; the runtime
// follows materialize.yaml (WatchTools) until the test ends.
func agentSession(t *testing.T, pr *project, agent string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := agentmv.OpenAgentRuntime(ctx, pr.open().Settings(), agent, agentmv.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); rt.Close() }) // after the session closes (cleanups run last first)
	go rt.WatchTools(ctx, filepath.Join(pr.dir, "materialize.yaml"), 20*time.Millisecond, nil)
	return mcpclient.Connect(t, tools.NewServer(tools.RuntimeServerName, "test", rt.Tools()), nil)
}

// listedTools is tools/list of a session, sorted.
func listedTools(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tl := range res.Tools {
		out = append(out, tl.Name)
	}
	slices.Sort(out)
	return out
}

// TestAgentToolSelectionMCP: an agent with a tools list is served exactly those tools (built-in
// and declared) over MCP; an agent without one gets every built-in and the declared tools over
// its own views. A declared tool over another agent's view in an agent's list is refused when
// the file loads (plan, apply, the servers), naming tool, view and agent; taking a tool off the
// list reaches a running agent server.
func TestAgentToolSelectionMCP(t *testing.T) {
	pr := agentsProject(t)
	pr.edit("materialize.yaml", "    token_env: SUPPORT_MCP_TOKEN\n", "    token_env: SUPPORT_MCP_TOKEN\n    tools: [list_views, query_view, top_spenders]\n")
	pr.edit("materialize.yaml", "\nviews:\n", agentDeclaredTools+"views:\n")
	pr.apply()

	support, finance := agentSession(t, pr, "support"), agentSession(t, pr, "finance")
	if got, want := listedTools(t, support), []string{"list_views", "query_view", "top_spenders"}; !slices.Equal(got, want) {
		t.Errorf("support's tools/list: %v, want %v", got, want)
	}
	if got, want := listedTools(t, finance), []string{"describe_view", "get_lineage", "list_views", "query_view", "refresh_view", "revenue_on"}; !slices.Equal(got, want) {
		t.Errorf("finance's tools/list: %v, want %v", got, want)
	}
	if text, isErr := callText(t, support, "top_spenders", map[string]any{"n": 2}); isErr || !strings.Contains(text, "lifetime_value_cents") {
		t.Errorf("support: top_spenders: %s", text)
	}
	if text, isErr := callText(t, finance, "revenue_on", map[string]any{"day": "2025-12-20"}); isErr || !strings.Contains(text, `"row_count":1`) {
		t.Errorf("finance: revenue_on: %s", text)
	}
	for _, c := range []struct {
		cs   *mcp.ClientSession
		tool string
	}{{support, tools.ToolDescribeView}, {support, "revenue_on"}, {finance, "top_spenders"}} {
		res, err := c.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: c.tool, Arguments: map[string]any{}})
		if err == nil && !res.IsError {
			t.Errorf("%s was served although not selected", c.tool)
		}
	}

	// Refused at load: support may not read daily_revenue, which revenue_on reads.
	path := filepath.Join(pr.dir, "materialize.yaml")
	good := string(testutil.ReadFile(t, path))
	pr.edit("materialize.yaml", "tools: [list_views, query_view, top_spenders]", "tools: [list_views, query_view, top_spenders, revenue_on]")
	_, err := agentmv.Open(context.Background(), agentmv.Options{ConfigPath: path, DotenvPath: "-", Overrides: pr.settings, Environ: func(string) (string, bool) { return "", false }})
	if want := `agent "support": tool "revenue_on" reads view "daily_revenue", which agent "support" may not read`; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "line ") {
		t.Errorf("plan with support given revenue_on: %v\nwant %s (with its line)", err, want)
	}
	// The running servers kept their tools while the file was invalid; taking top_spenders
	// off support's list removes it from support's server only.
	pr.write("materialize.yaml", strings.Replace(good, "tools: [list_views, query_view, top_spenders]", "tools: [list_views, query_view]", 1))
	testutil.WaitFor(t, testutil.Wait, "top_spenders to leave support's tools/list", func() (bool, error) {
		return slices.Equal(listedTools(t, support), []string{"list_views", "query_view"}), nil
	})
	if got := listedTools(t, finance); !slices.Contains(got, "revenue_on") || len(got) != 6 {
		t.Errorf("finance's tools changed: %v", got)
	}
}
