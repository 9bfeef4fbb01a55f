package tools_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

// runtimeSession sets up the fixture and an in-memory MCP session on the runtime tools,
// connected as the runtime role over TCP with a password.
func runtimeSession(t *testing.T) (*mcpclient.Env, *mcp.ClientSession) {
	t.Helper()
	env := mcpclient.Setup(t)
	pool := env.RuntimePool(t)
	if err := tools.CheckRuntimeRole(context.Background(), pool, env.Names.Schema); err != nil {
		t.Fatalf("fixture's runtime role fails the self-check: %v", err)
	}
	reg, err := tools.RuntimeTools(tools.RuntimeConfig{Pool: pool, Schema: env.Names.Schema})
	if err != nil {
		t.Fatal(err)
	}
	return env, session(t, reg)
}

func decode[T any](t *testing.T, res *mcp.CallToolResult) T {
	t.Helper()
	if res.IsError {
		t.Fatalf("unexpected tool error: %s", text(t, res))
	}
	var v T
	if err := json.Unmarshal([]byte(text(t, res)), &v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
	return v
}

func TestRuntimeToolList(t *testing.T) {
	t.Parallel()
	_, cs := runtimeSession(t)
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range lt.Tools {
		names = append(names, tl.Name)
		if tl.Name == tools.ToolRefreshView {
			if tl.Annotations.ReadOnlyHint || tl.Annotations.DestructiveHint == nil || *tl.Annotations.DestructiveHint {
				t.Errorf("refresh_view annotations: %+v", tl.Annotations)
			}
		} else if !tl.Annotations.ReadOnlyHint {
			t.Errorf("%s should be read-only", tl.Name)
		}
	}
	want := []string{"describe_view", "get_lineage", "list_views", "query_view", "refresh_view"}
	if !slices.Equal(names, want) {
		t.Fatalf("tools = %v, want %v", names, want)
	}
	// The whole tools/list response, as a JSON-RPC message, must fit the 8 KB token budget.
	msg, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "result": lt})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("runtime tools/list response: %d bytes", len(msg))
	if len(msg) > 8*1024 {
		t.Errorf("runtime tools/list response is %d bytes, budget 8192", len(msg))
	}
}

func TestListViews(t *testing.T) {
	t.Parallel()
	_, cs := runtimeSession(t)
	out := decode[tools.ListViewsOutput](t, call(t, cs, "list_views", map[string]any{}))
	var names []string
	for _, v := range out.Views {
		names = append(names, v.Name)
	}
	if want := []string{"customer_rollup", "daily_revenue", "fragile", "top_customers"}; !slices.Equal(names, want) {
		t.Fatalf("views = %v, want %v", names, want)
	}
	cr := out.Views[0]
	if cr.Columns != 4 || cr.Description != "The customer_rollup view." || !cr.Populated {
		t.Errorf("customer_rollup summary: %+v", cr)
	}
	if want := map[string]string{"orders": "Number of orders the customer placed", "revenue": "Sum of the order amounts, in euros"}; !maps.Equal(cr.ColumnMeanings, want) {
		t.Errorf("customer_rollup column_meanings = %v, want %v", cr.ColumnMeanings, want)
	}
	if dr := out.Views[1]; dr.ColumnMeanings != nil {
		t.Errorf("daily_revenue has no described columns, got %v", dr.ColumnMeanings)
	}
	if top := out.Views[3]; !slices.Equal(top.DependsOn, []string{"customer_rollup"}) {
		t.Errorf("top_customers depends_on = %v", top.DependsOn)
	}
}

func TestDescribeView(t *testing.T) {
	t.Parallel()
	_, cs := runtimeSession(t)
	res := call(t, cs, "describe_view", map[string]any{"name": "customer_rollup"})
	raw := text(t, res)
	out := decode[tools.DescribeViewOutput](t, res)
	cols := []tools.ViewColumn{{Name: "customer_id", Type: "integer", Nullable: true}, {Name: "name", Type: "text", Nullable: true},
		{Name: "orders", Type: "bigint", Nullable: true, Description: "Number of orders the customer placed"},
		{Name: "revenue", Type: "numeric", Nullable: true, Description: "Sum of the order amounts, in euros"}}
	if !slices.Equal(out.Columns, cols) {
		t.Errorf("columns = %+v", out.Columns)
	}
	if len(out.Indexes) != 1 || !out.Indexes[0].Unique || !slices.Equal(out.Indexes[0].Columns, []string{"customer_id"}) || !out.ConcurrentRefresh {
		t.Errorf("indexes = %+v concurrent=%v", out.Indexes, out.ConcurrentRefresh)
	}
	if !slices.Equal(out.Sources, []string{"public.customers", "public.orders"}) || out.Description == "" {
		t.Errorf("sources = %v description = %q", out.Sources, out.Description)
	}
	for _, leak := range []string{"LEFT JOIN", "coalesce", "GROUP BY"} {
		if strings.Contains(raw, leak) {
			t.Errorf("describe_view leaks the view SQL (%q): %s", leak, raw)
		}
	}
	for _, name := range []string{"nope", "views", "Customer_Rollup", "../x"} {
		if te := toolErr(t, call(t, cs, "describe_view", map[string]any{"name": name})); te.ErrorType != tools.ErrUnknownView {
			t.Errorf("describe_view(%q) error type %s", name, te.ErrorType)
		}
	}
	if te := toolErr(t, call(t, cs, "describe_view", map[string]any{})); te.ErrorType != tools.ErrInvalidArgument {
		t.Errorf("missing name: %s", te.ErrorType)
	}
}

func TestRefreshView(t *testing.T) {
	t.Parallel()
	env, cs := runtimeSession(t)
	for _, name := range []string{"customer_rollup", "daily_revenue"} {
		var r struct{ Status, Mode string }
		r = decode[struct{ Status, Mode string }](t, call(t, cs, "refresh_view", map[string]any{"name": name}))
		if r.Status != "success" {
			t.Errorf("refresh %s: %+v", name, r)
		}
		if name == "customer_rollup" && r.Mode != "concurrent" {
			t.Errorf("customer_rollup mode %s, want concurrent", r.Mode)
		}
	}
	env.Exec(t, `UPDATE public.divisor SET d = 0`)
	te := toolErr(t, call(t, cs, "refresh_view", map[string]any{"name": "fragile"}))
	if te.ErrorType != tools.ErrRefreshFailed || !strings.Contains(te.Message, "division by zero") || !strings.Contains(te.Hint, "refresh_history") {
		t.Errorf("failed refresh: %+v", te)
	}
	var n int
	if err := env.Admin.QueryRow(context.Background(), `SELECT count(*) FROM agent_mv.refresh_history WHERE view_name = 'fragile' AND status = 'failed'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("failed refresh not recorded durably: n=%d err=%v", n, err)
	}
	for name, want := range map[string]string{"nope": tools.ErrUnknownView, "secrets": tools.ErrUnknownView,
		"Bad-Name": tools.ErrUnknownView, strings.Repeat("x", 132): tools.ErrInvalidArgument} { // at most 131: "schema"."view", 63 bytes each
		if te := toolErr(t, call(t, cs, "refresh_view", map[string]any{"name": name})); te.ErrorType != want {
			t.Errorf("refresh_view(%q) error type %s, want %s (%s)", name, te.ErrorType, want, te.Message)
		}
	}
	// list_views reports the refresh.
	out := decode[tools.ListViewsOutput](t, call(t, cs, "list_views", map[string]any{}))
	if out.Views[0].LastStatus != "success" || out.Views[0].LastRefreshedAt == nil || *out.Views[0].RowsEstimate != 20 {
		t.Errorf("after refresh: %+v", out.Views[0])
	}
	if out.Views[2].LastStatus != "failed" {
		t.Errorf("fragile after failure: %+v", out.Views[2])
	}
}

func TestGetLineage(t *testing.T) {
	t.Parallel()
	_, cs := runtimeSession(t)
	got := decode[tools.LineageOutput](t, call(t, cs, "get_lineage", map[string]any{"name": "customer_rollup"}))
	want := tools.LineageOutput{Name: "customer_rollup", Sources: []string{"public.customers", "public.orders"},
		DependsOn: []string{}, DependedOnBy: []string{"top_customers"},
		Columns: []tools.ColumnLineage{{"customer_id", []string{"public.customers.id"}}, {"name", []string{"public.customers.name"}}, {"revenue", []string{"public.orders.amount"}}}}
	if gj, wj := mustJSON(t, got), mustJSON(t, want); gj != wj {
		t.Errorf("lineage\n got %s\nwant %s", gj, wj)
	}
	top := decode[tools.LineageOutput](t, call(t, cs, "get_lineage", map[string]any{"name": "top_customers"}))
	if !slices.Equal(top.DependsOn, []string{"customer_rollup"}) || len(top.Sources) != 0 {
		t.Errorf("top_customers lineage: %+v", top)
	}
	if te := toolErr(t, call(t, cs, "get_lineage", map[string]any{"name": "orders"})); te.ErrorType != tools.ErrUnknownView {
		t.Errorf("get_lineage(orders): %s", te.ErrorType)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCheckRuntimeRoleRefuses(t *testing.T) {
	t.Parallel()
	env := mcpclient.Setup(t)
	ctx := context.Background()
	// The admin is a superuser: refused.
	if err := tools.CheckRuntimeRole(ctx, env.Admin, "agent_mv"); err == nil || !strings.Contains(err.Error(), "superuser") {
		t.Errorf("admin pool: %v", err)
	}
	pool := env.RuntimePool(t)
	cases := []struct{ grant, revoke, want string }{
		{`GRANT SELECT ON public.secrets TO PUBLIC`, `REVOKE SELECT ON public.secrets FROM PUBLIC`, "public.secrets"},
		{`GRANT INSERT ON agent_mv.lineage TO ` + env.Names.RuntimeRole, `REVOKE INSERT ON agent_mv.lineage FROM ` + env.Names.RuntimeRole, "can write agent_mv.lineage"},
		{`GRANT CREATE ON SCHEMA public TO PUBLIC`, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`, "CREATE in schema public"},
		// Counted by the doctor before the self-check did (boundary.RuntimeWritePrivileges).
		{`GRANT REFERENCES ON public.secrets TO ` + env.Names.RuntimeRole, `REVOKE REFERENCES ON public.secrets FROM ` + env.Names.RuntimeRole, "can write public.secrets (REFERENCES)"},
		{`GRANT TRIGGER ON public.secrets TO PUBLIC`, `REVOKE TRIGGER ON public.secrets FROM PUBLIC`, "can write public.secrets (TRIGGER)"},
	}
	for _, c := range cases {
		env.Exec(t, c.grant)
		err := tools.CheckRuntimeRole(ctx, pool, "agent_mv")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "REVOKE") {
			t.Errorf("after %q: %v", c.grant, err)
		}
		env.Exec(t, c.revoke)
	}
	if err := tools.CheckRuntimeRole(ctx, pool, "agent_mv"); err != nil {
		t.Errorf("clean role refused: %v", err)
	}
}
