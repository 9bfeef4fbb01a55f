package tools_test

// What a new user met following the README on a database of their own (issue 14's walk-through):
// each case through a real MCP session on real Postgres.

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

// serverSession connects a client to tools.NewServer (what the CLI servers run) over in-memory
// transports.
func serverSession(t *testing.T, name string, reg *tools.Registry) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := tools.NewServer(name, "test", reg).Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "v0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close(); _ = ss.Wait() })
	return cs
}

// Both servers send instructions at initialize, each naming its own tools and none of the
// other server's.
func TestServersSendInstructions(t *testing.T) {
	t.Parallel()
	env := mcpclient.Setup(t)
	rtReg, err := tools.RuntimeTools(tools.RuntimeConfig{Pool: env.RuntimePool(t), Schema: env.Names.Schema})
	if err != nil {
		t.Fatal(err)
	}
	setupReg, err := tools.SetupTools(tools.SetupConfig{Pool: env.Admin, Root: t.TempDir(), Schema: env.Names.Schema})
	if err != nil {
		t.Fatal(err)
	}
	runtimeNames := []string{tools.ToolListViews, tools.ToolDescribeView, tools.ToolQueryView, tools.ToolRefreshView, tools.ToolGetLineage}
	setupNames := []string{tools.ToolListSchemas, tools.ToolListTables, tools.ToolDescribeTable, tools.ToolProfileTable,
		tools.ToolSampleQuery, tools.ToolReadRepoFiles, tools.ToolProposeView, tools.ToolFinalizeConfig}
	for _, c := range []struct {
		server       string
		reg          *tools.Registry
		own, foreign []string
	}{
		{tools.RuntimeServerName, rtReg, runtimeNames, setupNames},
		{tools.SetupServerName, setupReg, setupNames, runtimeNames},
	} {
		got := serverSession(t, c.server, c.reg).InitializeResult().Instructions
		if !strings.Contains(got, env.Names.Schema) {
			t.Errorf("%s instructions do not name the schema %s: %q", c.server, env.Names.Schema, got)
		}
		for _, n := range c.own {
			if !strings.Contains(got, n) {
				t.Errorf("%s instructions do not name its tool %s: %q", c.server, n, got)
			}
		}
		for _, n := range c.foreign {
			if regexp.MustCompile(`\b` + n + `\b`).MatchString(got) {
				t.Errorf("%s instructions name %s, a tool of the other server: %q", c.server, n, got)
			}
		}
	}
}

// TestSelectedToolsInstructions: a server given a selection of the built-ins (an agent's
// `tools:`) and a declared tool names only those in its instructions, points at the declared
// tool, and serves no querying prompt without query_view.
func TestSelectedToolsInstructions(t *testing.T) {
	t.Parallel()
	env := mcpclient.Setup(t)
	reg, err := tools.RuntimeTools(tools.RuntimeConfig{Pool: env.RuntimePool(t), Schema: env.Names.Schema,
		Builtins: []string{tools.ToolListViews, tools.ToolDescribeView},
		Tools:    []tools.ToolSpec{{Name: "top_revenue", Description: "The customers with the most revenue", SQL: "SELECT * FROM customer_rollup ORDER BY revenue DESC LIMIT 3"}}})
	if err != nil {
		t.Fatal(err)
	}
	cs := serverSession(t, tools.RuntimeServerName, reg)
	got := cs.InitializeResult().Instructions
	for _, n := range []string{tools.ToolListViews, tools.ToolDescribeView, "prefer one that matches the question."} {
		if !strings.Contains(got, n) {
			t.Errorf("instructions do not say %q: %q", n, got)
		}
	}
	for _, n := range []string{tools.ToolQueryView, tools.ToolRefreshView, tools.ToolGetLineage, "writing SQL"} {
		if strings.Contains(got, n) {
			t.Errorf("instructions mention %q, which this server does not have: %q", n, got)
		}
	}
	prompts, err := cs.ListPrompts(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(prompts.Prompts) != 0 {
		t.Errorf("prompts without query_view: %v, want none (the querying prompt is about query_view)", prompts.Prompts[0].Name)
	}
}

// Arguments the input schema refuses are explained in words, and a limit above the cap says
// it was capped.
func TestLimitMessages(t *testing.T) {
	t.Parallel()
	_, cs := runtimeSession(t)
	se := setupSession(t)
	for _, c := range []struct {
		cs   *mcp.ClientSession
		tool string
		args map[string]any
		want string
	}{
		{cs, "query_view", map[string]any{"sql": "SELECT 1 FROM customer_rollup", "limit": 0}, "invalid arguments for query_view: limit must be at least 1 (got 0)"},
		{cs, "query_view", map[string]any{"sql": "SELECT 1 FROM customer_rollup", "limit": -5}, "limit must be at least 1 (got -5)"},
		{cs, "query_view", map[string]any{"sql": "SELECT 1 FROM customer_rollup", "limit": "ten"}, "limit must be of type integer, not string"},
		{cs, "query_view", map[string]any{"sql": ""}, "sql must not be empty"},
		{cs, "describe_view", map[string]any{}, "missing required argument name"},
		{se.cs, "sample_query", map[string]any{"sql": "SELECT 1", "limit": 0}, "invalid arguments for sample_query: limit must be at least 1 (got 0)"},
	} {
		te := toolErr(t, call(t, c.cs, c.tool, c.args))
		if te.ErrorType != tools.ErrInvalidArgument || !strings.HasSuffix(te.Message, c.want) || strings.Contains(te.Message, "validating") {
			t.Errorf("%s(%v): %s %q, want %q", c.tool, c.args, te.ErrorType, te.Message, c.want)
		}
	}
	over := decode[tools.QueryOutput](t, call(t, cs, "query_view", map[string]any{"sql": "SELECT customer_id FROM customer_rollup", "limit": 100000}))
	if !strings.Contains(over.LimitNote, "limit 100000 is above the most rows this server returns (1000)") {
		t.Errorf("limit above the cap: limit_note = %q", over.LimitNote)
	}
	under := decode[tools.QueryOutput](t, call(t, cs, "query_view", map[string]any{"sql": "SELECT customer_id FROM customer_rollup", "limit": 1}))
	if under.LimitNote != "" || under.RowCount != 1 {
		t.Errorf("limit under the cap: limit_note = %q, rows %d", under.LimitNote, under.RowCount)
	}
	sample := decode[tools.Result](t, call(t, se.cs, "sample_query", map[string]any{"sql": "SELECT 1", "limit": 5000}))
	if !strings.Contains(sample.LimitNote, "limit 5000 is above") {
		t.Errorf("sample_query limit above the cap: limit_note = %q", sample.LimitNote)
	}
}

// describe_view, get_lineage and refresh_view accept the names query_view accepts: bare or
// qualified with the target schema.
func TestViewNamesQualified(t *testing.T) {
	t.Parallel()
	env, cs := runtimeSession(t)
	s := env.Names.Schema
	for _, name := range []string{s + ".customer_rollup", `"` + s + `"."customer_rollup"`, strings.ToUpper(s) + ".customer_rollup", " " + s + ".customer_rollup "} {
		if d := decode[tools.DescribeViewOutput](t, call(t, cs, "describe_view", map[string]any{"name": name})); d.Name != "customer_rollup" || len(d.Columns) != 4 {
			t.Errorf("describe_view(%q) = %+v", name, d)
		}
		if l := decode[tools.LineageOutput](t, call(t, cs, "get_lineage", map[string]any{"name": name})); l.Name != "customer_rollup" || len(l.Sources) == 0 {
			t.Errorf("get_lineage(%q) = %+v", name, l)
		}
	}
	if r := call(t, cs, "refresh_view", map[string]any{"name": s + ".customer_rollup"}); r.IsError {
		t.Errorf("refresh_view(%s.customer_rollup): %s", s, text(t, r))
	}
	for _, name := range []string{"public.customer_rollup", `"` + s + `"."Customer_Rollup"`, s + ".", s + ".customer_rollup.x"} {
		if te := toolErr(t, call(t, cs, "describe_view", map[string]any{"name": name})); te.ErrorType != tools.ErrUnknownView {
			t.Errorf("describe_view(%q): %s", name, te.ErrorType)
		}
	}
}

// A name written without the quotes a mixed-case table needs, or without its schema, gets the
// name to write; Postgres's own hint (a column's real spelling) reaches the agent.
func TestSetupSuggestsRelationNames(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	se.env.Exec(t, `CREATE TABLE public."UserEvents" ("userId" int, "eventType" text);
CREATE SCHEMA billing; CREATE TABLE billing.invoices (id int)`)
	cs := se.cs
	for _, c := range []struct {
		tool string
		args map[string]any
		hint string
	}{
		{"describe_table", map[string]any{"name": "userevents"}, `did you mean public."UserEvents"?`},
		{"describe_table", map[string]any{"name": "public.USEREVENTS"}, `did you mean public."UserEvents"?`},
		{"profile_table", map[string]any{"name": "invoices"}, `did you mean billing.invoices?`},
		{"sample_query", map[string]any{"sql": `SELECT * FROM UserEvents`}, `did you mean public."UserEvents"?`},
		{"sample_query", map[string]any{"sql": `SELECT * FROM invoices`}, `did you mean billing.invoices?`},
	} {
		te := toolErr(t, call(t, cs, c.tool, c.args))
		if te.ErrorType != tools.ErrUnknownRelation || !strings.HasPrefix(te.Hint, c.hint) {
			t.Errorf("%s(%v): %s hint %q, want it to start with %q", c.tool, c.args, te.ErrorType, te.Hint, c.hint)
		}
		if strings.Contains(te.Hint, `"UserEvents"`) && !strings.Contains(te.Hint, "double quotes") {
			t.Errorf("%s(%v): hint does not say why the quotes: %q", c.tool, c.args, te.Hint)
		}
	}
	if te := toolErr(t, call(t, cs, "sample_query", map[string]any{"sql": `SELECT * FROM nothing_like_it`})); strings.Contains(te.Hint, "did you mean") {
		t.Errorf("no similar relation, yet: %q", te.Hint)
	}
	te := toolErr(t, call(t, cs, "sample_query", map[string]any{"sql": `SELECT userId FROM "UserEvents"`}))
	if !strings.Contains(te.Message, `"UserEvents.userId"`) {
		t.Errorf("Postgres's hint about the column is lost: %q", te.Message)
	}
}

// profile_table prints float4 statistics as Postgres does, not with float32 noise.
func TestProfileNumbersPlain(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	se.env.Exec(t, `CREATE TABLE public.plans (plan text); INSERT INTO public.plans SELECT CASE WHEN g % 7 = 0 THEN NULL ELSE 'p' || (g % 3) END FROM generate_series(1, 1000) g; ANALYZE public.plans`)
	res := call(t, se.cs, "profile_table", map[string]any{"name": "public.plans"})
	raw := text(t, res)
	p := decode[tools.ProfileOutput](t, res)
	if len(p.Columns) != 1 || len(p.Columns[0].TopValues) != 3 || p.Columns[0].NullFrac == nil {
		t.Fatalf("profile: %s", raw)
	}
	if *p.Columns[0].NullFrac != 0.142 {
		t.Errorf("null_fraction = %v, want 0.142 (Postgres's float4 printed plainly)", *p.Columns[0].NullFrac)
	}
	if m := regexp.MustCompile(`\d\.\d{8,}`).FindString(raw); m != "" {
		t.Errorf("profile numbers carry float32 noise (%s): %s", m, raw)
	}
	freqs := []float64{}
	for _, v := range p.Columns[0].TopValues {
		freqs = append(freqs, v.Frequency)
	}
	if !slices.Equal(freqs, []float64{0.286, 0.286, 0.286}) {
		t.Errorf("frequencies = %v", freqs)
	}
}

// propose_view warns when the view would hand agents a column whose name says it is secret
// (the rule profile_table masks by), and not otherwise.
func TestProposeViewWarnsOfSecretColumns(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	se.env.Exec(t, `CREATE TABLE public.members (id int PRIMARY KEY, email text, api_token text, password_hash text)`)
	out := decode[tools.StagingOutput](t, call(t, se.cs, "propose_view", map[string]any{
		"name": "member_tokens", "sql": "SELECT id, email, api_token, password_hash FROM public.members", "rationale": "x"}))
	if !strings.Contains(out.Proposed.Note, "Careful: api_token, password_hash look secret by name (token, password)") {
		t.Errorf("no warning about secret columns: %q", out.Proposed.Note)
	}
	out = decode[tools.StagingOutput](t, call(t, se.cs, "propose_view", map[string]any{
		"name": "member_emails", "sql": "SELECT id, email FROM public.members", "rationale": "x"}))
	if strings.Contains(out.Proposed.Note, "Careful") {
		t.Errorf("warning without a secret column: %q", out.Proposed.Note)
	}
}
