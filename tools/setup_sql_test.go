package tools_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/tools"
)

func TestSampleQuery(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	out := decode[tools.Result](t, call(t, se.cs, "sample_query", map[string]any{
		"sql": "SELECT o.id, c.name FROM orders o JOIN public.customers c ON c.id = o.customer_id ORDER BY o.id", "limit": 2}))
	if out.RowCount != 2 || !out.Truncated {
		t.Errorf("sample: %+v", out)
	}
	for sql, want := range map[string]string{
		"SELECT pg_read_file('/etc/passwd')":                         tools.ErrNotAllowed,
		"SELECT * FROM pg_authid":                                    tools.ErrNotAllowed,
		"SELECT * FROM information_schema.tables":                    tools.ErrNotAllowed,
		"SELECT nextval('x')":                                        tools.ErrNotAllowed,
		"DELETE FROM orders":                                         tools.ErrNotAllowed,
		"SELECT 1; DROP TABLE orders":                                tools.ErrNotAllowed,
		"WITH d AS (DELETE FROM orders RETURNING 1) SELECT * FROM d": tools.ErrNotAllowed,
	} {
		if te := toolErr(t, call(t, se.cs, "sample_query", map[string]any{"sql": sql})); te.ErrorType != want {
			t.Errorf("%s: %s (%s)", sql, te.ErrorType, te.Message)
		}
	}
}

func TestProposeView(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	out := decode[tools.StagingOutput](t, call(t, se.cs, "propose_view", map[string]any{
		"name": "revenue_by_day", "sql": "SELECT day, sum(amount) AS revenue FROM public.orders GROUP BY day;", "rationale": "daily revenue"}))
	if len(out.Proposed.Indexes) != 1 || !slices.Equal(out.Proposed.Indexes[0].Columns, []string{"day"}) || !slices.Equal(out.Proposed.Columns, []string{"day", "revenue"}) {
		t.Errorf("proposal: %+v", out.Proposed)
	}
	described := decode[tools.StagingOutput](t, call(t, se.cs, "propose_view", map[string]any{
		"name": "order_list", "sql": "SELECT id, amount FROM public.orders", "rationale": "orders",
		"column_descriptions": map[string]string{"amount": "Order total in euros"}}))
	if want := map[string]string{"amount": "Order total in euros"}; !maps.Equal(described.Proposed.ColumnDescriptions, want) {
		t.Errorf("column_descriptions staged as %v", described.Proposed.ColumnDescriptions)
	}
	te := toolErr(t, call(t, se.cs, "propose_view", map[string]any{
		"name": "order_list2", "sql": "SELECT id, amount AS total FROM public.orders", "rationale": "orders",
		"column_descriptions": map[string]string{"amount": "Order total in euros"}}))
	if te.ErrorType != tools.ErrInvalidArgument || !strings.Contains(te.Message, `"amount" is not an output column (the columns are id, total)`) {
		t.Errorf("describing a column the view lacks: %+v", te)
	}
	// Re-proposing a name replaces it.
	again := decode[tools.StagingOutput](t, call(t, se.cs, "propose_view", map[string]any{
		"name": "revenue_by_day", "sql": "SELECT day, sum(amount) AS total FROM public.orders GROUP BY day", "rationale": "v2"}))
	if len(again.Proposals) != 2 || again.Proposals[1].Rationale != "v2" {
		t.Errorf("proposals: %+v", again.Proposals)
	}
	data, err := os.ReadFile(filepath.Join(se.root, tools.StagingFileName))
	if err != nil || !strings.Contains(string(data), "name: order_list") || !strings.Contains(string(data), "unique: true") ||
		!strings.Contains(string(data), "amount: Order total in euros") {
		t.Errorf("staging file: %v\n%s", err, data)
	}
	for _, c := range []struct{ name, sql, want string }{
		{"../etc/passwd", "SELECT 1 AS a", tools.ErrInvalidArgument},
		{"Bad", "SELECT 1 AS a", tools.ErrInvalidArgument},
		{"existing_view", "SELECT 1 AS a", tools.ErrInvalidArgument},
		{"x", "DELETE FROM public.orders", tools.ErrNotAllowed},
		{"x", "SELECT pg_sleep(1) AS s", tools.ErrNotAllowed},
		{"x", "SELECT 1 + 1", tools.ErrInvalidArgument},
		{"x", "SELECT id, id FROM public.orders", tools.ErrInvalidArgument},
		{"x", "SELECT nope FROM public.orders", tools.ErrQuery},
	} {
		if te := toolErr(t, call(t, se.cs, "propose_view", map[string]any{"name": c.name, "sql": c.sql, "rationale": "r"})); te.ErrorType != c.want {
			t.Errorf("propose %s %q: %s (%s)", c.name, c.sql, te.ErrorType, te.Message)
		}
	}
}
