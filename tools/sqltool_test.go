package tools_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

func ptr[T any](v T) *T { return &v }

// declaredSpecs are tools over the fixture's views covering every parameter type.
var declaredSpecs = []tools.ToolSpec{
	{Name: "customer_by_id", Description: "One customer's revenue.",
		SQL:        "SELECT name, revenue FROM customer_rollup WHERE customer_id = @id",
		Parameters: []tools.ParamSpec{{Name: "id", Type: "integer", Required: true, Min: ptr(1.0), Max: ptr(1000.0)}}},
	{Name: "customers_named", Description: "Customers by exact name.",
		SQL:        "SELECT customer_id FROM customer_rollup WHERE name = ANY(@names) OR name = @name ORDER BY 1",
		Parameters: []tools.ParamSpec{{Name: "names", Type: "string[]", MaxLength: ptr(80)}, {Name: "name", Type: "string", MaxLength: ptr(80)}}},
	{Name: "revenue_between", Description: "Daily revenue in a date range.",
		SQL: "SELECT day, revenue FROM agent_mv.daily_revenue WHERE day >= $1 AND day < $2 AND ($3 OR revenue >= $4) AND day::timestamptz < $5 ORDER BY day",
		Parameters: []tools.ParamSpec{{Name: "since", Type: "date", Required: true}, {Name: "until", Type: "date", Required: true},
			{Name: "all", Type: "boolean", Default: true}, {Name: "min_revenue", Type: "number", Default: 0.0},
			{Name: "before", Type: "timestamp", Default: "2100-01-01T00:00:00Z"}}},
	{Name: "top_n", Description: "The n customers with the most revenue.",
		SQL:        "SELECT name FROM customer_rollup WHERE customer_id = ANY(@ids) OR @ids IS NULL ORDER BY revenue DESC, name LIMIT @n",
		Parameters: []tools.ParamSpec{{Name: "n", Type: "integer", Default: 3, Max: ptr(20.0), Enum: []any{1, 3, 5}}, {Name: "ids", Type: "integer[]"}}},
}

// declaredSession serves the runtime tools with specs as the runtime role over TCP.
func declaredSession(t *testing.T, specs []tools.ToolSpec) (*mcpclient.Env, *pgxpool.Pool, *mcp.ClientSession) {
	t.Helper()
	env := mcpclient.Setup(t)
	pool := env.RuntimePool(t)
	reg, err := tools.RuntimeTools(tools.RuntimeConfig{Pool: pool, Schema: env.Names.Schema, Tools: specs})
	if err != nil {
		t.Fatal(err)
	}
	return env, pool, session(t, reg)
}

// adminRows runs sql as the admin and returns its rows as JSON, to compare with a tool's rows.
func adminRows(t *testing.T, env *mcpclient.Env, sql string, args ...any) string {
	t.Helper()
	rows, err := env.Admin.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return normalizeJSON(t, b)
}

func normalizeJSON(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		v = []any{}
	}
	out, _ := json.Marshal(v)
	return string(out)
}

type declaredOut struct {
	Rows      json.RawMessage `json:"rows"`
	RowCount  int             `json:"row_count"`
	Freshness []struct {
		View string `json:"view"`
	} `json:"freshness"`
}

func TestDeclaredToolsAnswerWithBoundParameters(t *testing.T) {
	env, _, cs := declaredSession(t, declaredSpecs)
	cases := []struct {
		tool  string
		args  map[string]any
		admin string
		aargs []any
		view  string
	}{
		{"customer_by_id", map[string]any{"id": 7}, "SELECT name, revenue::float8 FROM agent_mv.customer_rollup WHERE customer_id = 7", nil, "customer_rollup"},
		{"customers_named", map[string]any{"names": []string{"customer 3", "customer 12"}, "name": "customer 5"},
			"SELECT customer_id FROM agent_mv.customer_rollup WHERE name IN ('customer 3', 'customer 12', 'customer 5') ORDER BY 1", nil, "customer_rollup"},
		{"revenue_between", map[string]any{"since": "2026-01-02", "until": "2026-01-05"},
			"SELECT day::text, revenue::float8 FROM agent_mv.daily_revenue WHERE day >= '2026-01-02' AND day < '2026-01-05' ORDER BY day", nil, "daily_revenue"},
		{"revenue_between", map[string]any{"since": "2026-01-01", "until": "2026-02-01", "all": false, "min_revenue": 10000.5, "before": "2026-01-04T00:00:00+00:00"},
			"SELECT day::text, revenue::float8 FROM agent_mv.daily_revenue WHERE day < '2026-01-04' AND revenue >= 10000.5 ORDER BY day", nil, "daily_revenue"},
		{"top_n", map[string]any{}, "SELECT name FROM agent_mv.customer_rollup ORDER BY revenue DESC, name LIMIT 3", nil, "customer_rollup"},
		{"top_n", map[string]any{"n": 5, "ids": []int{1, 2, 3}}, "SELECT name FROM agent_mv.customer_rollup WHERE customer_id IN (1, 2, 3) ORDER BY revenue DESC, name LIMIT 5", nil, "customer_rollup"},
	}
	for _, tc := range cases {
		out := decode[declaredOut](t, call(t, cs, tc.tool, tc.args))
		want := adminRows(t, env, tc.admin, tc.aargs...)
		if got := normalizeJSON(t, out.Rows); got != want || out.RowCount == 0 {
			t.Errorf("%s(%v) rows = %s (row_count %d), want %s", tc.tool, tc.args, got, out.RowCount, want)
		}
		if len(out.Freshness) != 1 || out.Freshness[0].View != tc.view {
			t.Errorf("%s freshness = %+v, want %s", tc.tool, out.Freshness, tc.view)
		}
	}
}

func TestViewsNameTheToolsReadingThem(t *testing.T) {
	_, _, cs := declaredSession(t, declaredSpecs)
	lv := decode[tools.ListViewsOutput](t, call(t, cs, "list_views", map[string]any{}))
	got := map[string][]string{}
	for _, v := range lv.Views {
		got[v.Name] = v.Tools
	}
	if !slices.Equal(got["customer_rollup"], []string{"customer_by_id", "customers_named", "top_n"}) || got["fragile"] != nil {
		t.Errorf("list_views tools = %v", got)
	}
	dv := decode[tools.DescribeViewOutput](t, call(t, cs, "describe_view", map[string]any{"name": "daily_revenue"}))
	if !slices.Equal(dv.Tools, []string{"revenue_between"}) {
		t.Errorf("describe_view(daily_revenue) tools = %v", dv.Tools)
	}
}

// TestDeclaredToolInjection sends SQL through every parameter type: values are data, so a
// string finds no row and the database is untouched; other types are refused before any SQL.
func TestDeclaredToolInjection(t *testing.T) {
	env, pool, cs := declaredSession(t, declaredSpecs)
	payloads := []string{
		"x' OR '1'='1", "'; DROP TABLE public.orders; --", "customer 3' UNION SELECT secret FROM public.secrets --",
		`customer 3"}`, `{"customer 3"}`, `\'; SELECT 1; --`, "$1", "@name",
	}
	for _, p := range payloads {
		out := decode[declaredOut](t, call(t, cs, "customers_named", map[string]any{"name": p, "names": []string{p, p + `","customer 3`}}))
		if out.RowCount != 0 {
			t.Errorf("string payload %q matched %d rows: %s", p, out.RowCount, out.Rows)
		}
	}
	// The payloads reached Postgres as values: the same value bound by the admin matches nothing.
	if got := adminRows(t, env, "SELECT count(*) FROM public.orders"); got != "[[500]]" {
		t.Errorf("orders after the string payloads: %s", got)
	}
	refused := []struct {
		tool string
		args map[string]any
	}{
		{"customer_by_id", map[string]any{"id": "7 OR 1=1"}},
		{"customer_by_id", map[string]any{"id": 7.5}},
		{"customer_by_id", map[string]any{"id": 0}},    // below min
		{"customer_by_id", map[string]any{"id": 5000}}, // above max
		{"customer_by_id", map[string]any{}},           // required
		{"customer_by_id", map[string]any{"id": 7, "sql": "SELECT 1"}},
		{"customers_named", map[string]any{"name": strings.Repeat("x", 81)}},
		{"customers_named", map[string]any{"names": "customer 3"}},
		{"customers_named", map[string]any{"name": "a\x00b"}},
		{"revenue_between", map[string]any{"since": "2026-01-01' OR '1'='1", "until": "2026-02-01"}},
		{"revenue_between", map[string]any{"since": "2026-13-01", "until": "2026-02-01"}},
		{"revenue_between", map[string]any{"since": "2026-01-01", "until": "2026-02-01", "all": "true OR 1=1"}},
		{"revenue_between", map[string]any{"since": "2026-01-01", "until": "2026-02-01", "min_revenue": "0; DROP TABLE public.orders"}},
		{"revenue_between", map[string]any{"since": "2026-01-01", "until": "2026-02-01", "before": "now()); DROP TABLE public.orders; --"}},
		{"top_n", map[string]any{"n": 4}}, // not in enum
		{"top_n", map[string]any{"ids": []any{1, "2) OR (1=1"}}},
	}
	before := pool.Stat().AcquireCount()
	for _, tc := range refused {
		res := call(t, cs, tc.tool, tc.args)
		if !res.IsError {
			t.Errorf("%s(%v) was accepted: %s", tc.tool, tc.args, text(t, res))
			continue
		}
		var te tools.ToolError
		if err := json.Unmarshal([]byte(text(t, res)), &te); err != nil {
			t.Fatal(err)
		}
		if te.ErrorType != tools.ErrInvalidArgument || te.Hint == "" {
			t.Errorf("%s(%v) error = %+v, want invalid_argument with a hint", tc.tool, tc.args, te)
		}
	}
	if after := pool.Stat().AcquireCount(); after != before {
		t.Errorf("refused arguments used the database: %d connection acquisitions", after-before)
	}
	if got := adminRows(t, env, "SELECT count(*) FROM public.orders"); got != "[[500]]" {
		t.Errorf("orders after the payloads: %s", got)
	}
}

func TestDeclaredToolsList(t *testing.T) {
	_, _, cs := declaredSession(t, declaredSpecs[:3])
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*mcp.Tool{}
	for _, tl := range lt.Tools {
		byName[tl.Name] = tl
	}
	for _, s := range declaredSpecs[:3] {
		tl, ok := byName[s.Name]
		if !ok {
			t.Fatalf("tools/list lacks %s", s.Name)
		}
		if !tl.Annotations.ReadOnlyHint || tl.Annotations.OpenWorldHint == nil || *tl.Annotations.OpenWorldHint || tl.OutputSchema == nil {
			t.Errorf("%s: annotations %+v, output schema %v", s.Name, tl.Annotations, tl.OutputSchema)
		}
		b, _ := json.Marshal(tl.InputSchema)
		for _, p := range s.Parameters {
			if !strings.Contains(string(b), `"`+p.Name+`"`) {
				t.Errorf("%s input schema lacks %s: %s", s.Name, p.Name, b)
			}
		}
	}
	if len(lt.Tools) != 8 {
		t.Errorf("tools/list has %d tools, want the 5 built-ins and 3 declared", len(lt.Tools))
	}
	// What three declared tools add to tools/list: each stays small (its input schema is its
	// parameters, its output schema a short outline of query_view's result).
	all, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "result": lt})
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	for _, s := range declaredSpecs[:3] {
		b, _ := json.Marshal(byName[s.Name])
		declared += len(b)
	}
	t.Logf("runtime tools/list: %d bytes with three declared tools, which take %d of them", len(all), declared)
	if declared > 3*800 {
		t.Errorf("three declared tools take %d bytes of tools/list, want at most %d", declared, 3*800)
	}
}

// TestCompileToolRefuses: what CompileTool refuses, with the message that says why.
func TestCompileToolRefuses(t *testing.T) {
	managed := func(n string) bool { return n == "customer_rollup" || n == "daily_revenue" }
	id := []tools.ParamSpec{{Name: "id", Type: "integer"}}
	cases := []struct {
		name string
		spec tools.ToolSpec
		want string
	}{
		{"base table", tools.ToolSpec{SQL: "SELECT * FROM public.secrets"}, "relation public.secrets is outside schema agent_mv"},
		{"unmanaged name", tools.ToolSpec{SQL: "SELECT * FROM orders"}, "relation orders is not a managed view"},
		{"denied function", tools.ToolSpec{SQL: "SELECT pg_sleep(@id) FROM customer_rollup", Parameters: id}, "function pg_sleep is not allowed"},
		{"second statement", tools.ToolSpec{SQL: "SELECT 1 FROM customer_rollup; DELETE FROM customer_rollup"}, "exactly one statement"},
		{"not a select", tools.ToolSpec{SQL: "DELETE FROM customer_rollup WHERE customer_id = $1", Parameters: id}, "SELECT"},
		{"unused parameter", tools.ToolSpec{SQL: "SELECT 1 FROM customer_rollup", Parameters: id}, `parameter "id" is declared but the SQL never uses it`},
		{"undeclared placeholder", tools.ToolSpec{SQL: "SELECT 1 FROM customer_rollup WHERE customer_id = @cid", Parameters: id}, "placeholder @cid is not a declared parameter"},
		{"positional out of range", tools.ToolSpec{SQL: "SELECT 1 FROM customer_rollup WHERE customer_id = $1 OR customer_id = $2", Parameters: id}, "placeholder $2 has no parameter"},
		{"mixed placeholders", tools.ToolSpec{SQL: "SELECT 1 FROM customer_rollup WHERE customer_id = $1 OR customer_id = @id", Parameters: id}, "mixes $n and @name"},
		{"unknown type", tools.ToolSpec{SQL: "SELECT @id", Parameters: []tools.ParamSpec{{Name: "id", Type: "uuid"}}}, `unknown type "uuid"`},
		{"bounds on a string", tools.ToolSpec{SQL: "SELECT @id", Parameters: []tools.ParamSpec{{Name: "id", Type: "string", Min: ptr(1.0)}}}, "min and max apply to integer and number"},
		{"default out of bounds", tools.ToolSpec{SQL: "SELECT @id", Parameters: []tools.ParamSpec{{Name: "id", Type: "integer", Max: ptr(5.0), Default: 9}}}, "default: at most 5"},
		{"required with default", tools.ToolSpec{SQL: "SELECT @id", Parameters: []tools.ParamSpec{{Name: "id", Type: "integer", Required: true, Default: 1}}}, "a required parameter has no default"},
		{"built-in name", tools.ToolSpec{Name: "query_view", SQL: "SELECT 1"}, "built-in runtime tool"},
		{"bad name", tools.ToolSpec{Name: "Top-N", SQL: "SELECT 1"}, "tool name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if spec.Name == "" {
				spec.Name = "t1"
			}
			spec.Description = "d"
			_, err := tools.CompileTool(spec, "agent_mv", managed)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CompileTool(%q) = %v, want an error containing %q", spec.SQL, err, tc.want)
			}
		})
	}
	// Placeholders inside strings, quoted identifiers and comments are text, not parameters.
	ct, err := tools.CompileTool(tools.ToolSpec{Name: "t2", Description: "d",
		SQL:        "SELECT '@id' AS \"@id\" /* @id */ FROM customer_rollup WHERE customer_id = @id -- @x",
		Parameters: id}, "agent_mv", managed)
	if err != nil || !strings.Contains(ct.SQL, "customer_id = $1") || !strings.Contains(ct.SQL, "'@id'") || len(ct.Reads) != 1 {
		t.Fatalf("CompileTool = %+v, %v", ct, err)
	}
}
