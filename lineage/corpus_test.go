package lineage_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/lineage"
)

// managedViews stands for materialize.yaml in the corpus.
var managedViews = []string{"customer_rollup", "orders_daily", "top_customers"}

func isManaged(name string) bool { return slices.Contains(managedViews, name) }

func rel(kind string, cols ...string) lineage.Resolved {
	return lineage.Resolved{Kind: kind, Columns: cols}
}

// catalog is the static catalog of the corpus: search_path = agent_mv, public, sales.
var catalog = lineage.StaticResolver{
	SearchPath: []string{"agent_mv", "public", "sales"},
	Relations: map[string]lineage.Resolved{
		"public.users":              rel("r", "id", "name", "email", "created_at"),
		"public.orders":             rel("p", "id", "user_id", "total", "amount", "status", "created_at"),
		"public.accounts":           rel("r", "id", "user_id", "balance", "owner"),
		"public.events":             rel("r", "id", "user_id", "kind", "payload", "at"),
		"public.products":           rel("r", "id", "name", "price"),
		"public.order_items":        rel("r", "order_id", "product_id", "qty", "price"),
		"public.active_users":       rel("v", "id", "name"),
		"public.daily_mv":           rel("m", "day", "n"),
		"public.MyTable":            rel("r", "Id", "Value"),
		"public.employees":          rel("r", "id", "manager_id", "name"),
		"public.measurements":       rel("p", "id", "city_id", "value", "at"),
		"public.big_orders":         rel("v", "id", "total"),
		"public.remote_rates":       rel("f", "currency", "rate"),
		"sales.regions":             rel("r", "region", "manager"),
		"sales.orders":              rel("f", "id", "customer_id", "amount", "region", "at"),
		"agent_mv.customer_rollup":  rel("m", "user_id", "orders", "total"),
		"agent_mv.orders_daily":     rel("m", "day", "orders", "revenue"),
		"agent_mv.top_customers":    rel("m", "user_id", "total"),
		"agent_mv.views":            rel("r", "name", "description"),
		"agent_mv.refresh_history":  rel("r", "id", "view_name", "status"),
		"agent_mv.lineage":          rel("r", "view_name", "source_kind", "source_name"),
		"agent_mv.column_lineage":   rel("r", "view_name", "view_column"),
		"pg_catalog.pg_class":       rel("r", "oid", "relname"),
		"information_schema.tables": rel("v", "table_name"),
	},
}

// golden is what the corpus records for one SQL file.
type golden struct {
	ParseError     string   `json:"parse_error,omitempty"`
	Relations      []string `json:"relations,omitempty"`
	Functions      []string `json:"functions,omitempty"`
	TableFunctions []string `json:"table_functions,omitempty"`
	// Static is Sources (no catalog, the seed's rules); Catalog is Analyze with the static
	// catalog above as Resolver.
	Static  *result `json:"static,omitempty"`
	Catalog *result `json:"catalog,omitempty"`
}

type result struct {
	Error         string   `json:"error,omitempty"`
	Tables        []string `json:"tables,omitempty"`
	Views         []string `json:"views,omitempty"`
	OutputColumns []string `json:"output_columns,omitempty"`
	Columns       []string `json:"columns,omitempty"` // "view_column <- schema.relation.column"
}

func toResult(a *lineage.Analysis, err error) *result {
	if err != nil {
		return &result{Error: err.Error()}
	}
	r := &result{Views: a.Views, OutputColumns: a.OutputColumns}
	for _, t := range a.Tables {
		s := t.String()
		if t.Kind != "" {
			s += " (" + t.Kind + ")"
		}
		r.Tables = append(r.Tables, s)
	}
	for _, c := range a.Columns {
		r.Columns = append(r.Columns, c.ViewColumn+" <- "+c.SourceSchema+"."+c.SourceRelation+"."+c.SourceColumn)
	}
	return r
}

func analyzeCase(sql string) golden {
	var g golden
	q, err := lineage.Parse(sql)
	if err != nil {
		g.ParseError = err.Error()
		return g
	}
	for _, r := range q.Relations() {
		g.Relations = append(g.Relations, r.String())
	}
	for _, f := range q.Functions() {
		g.Functions = append(g.Functions, f.String())
	}
	for _, f := range q.TableFunctions() {
		g.TableFunctions = append(g.TableFunctions, f.String())
	}
	g.Static = toResult(lineage.Sources(sql, "agent_mv", isManaged))
	g.Catalog = toResult(q.Analyze(context.Background(), lineage.Options{
		TargetSchema: "agent_mv", Managed: isManaged, Resolver: catalog}))
	return g
}

func corpusFiles(t testing.TB) []string {
	files, err := filepath.Glob("testdata/corpus/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	return files
}

// TestCorpus checks every SQL file under testdata/corpus against its golden JSON: relations,
// functions, table functions, and table, view and column lineage with and without a catalog
// (or the error). Run with -update to rewrite the goldens, then review the diff.
func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	if len(files) < 80 {
		t.Errorf("corpus has %d cases, want at least 80", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		t.Run(name, func(t *testing.T) {
			sql, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := analyzeCase(string(sql))
			b, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			testutil.CheckGolden(t, strings.TrimSuffix(f, ".sql")+".json", append(b, '\n'))
		})
	}
}

// TestParseErrors checks the error kinds callers map (tools, apply) and the line:column.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		sql  string
		kind error
		msg  string
	}{
		{"SELECT id\nFORM users", lineage.ErrSyntax, `syntax error at or near "users" (line 2, column 6)`},
		{"SELECT id FROM users\nWHERE id = = 1", lineage.ErrSyntax, `(line 2, column 12)`},
		{"SELECT 'é' ,, 1", lineage.ErrSyntax, `syntax error at or near "," (line 1, column 13)`},
		{"SELECT 1; SELECT 2", lineage.ErrMultipleStatements, "(line 1, column 10)"},
		{"", lineage.ErrEmpty, "no SQL statement"},
		{"/* only */ ;", lineage.ErrEmpty, "no SQL statement"},
		{"DELETE FROM users", lineage.ErrNotSelect, "only a SELECT is allowed, found DELETE"},
		{"SELECT * INTO t FROM users", lineage.ErrNotSelect, "SELECT INTO"},
		{"SELECT * FROM users FOR NO KEY UPDATE", lineage.ErrNotSelect, "read-only (line 1, column 21)"},
		{"SELECT * FROM users WHERE id IN (SELECT id FROM users FOR UPDATE)", lineage.ErrNotSelect, "read-only (line 1, column 55)"},
		{"SELECT 1 AS \"for\" FROM users\n-- for update\nFOR SHARE", lineage.ErrNotSelect, "read-only (line 3, column 1)"},
		{"WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x", lineage.ErrNotSelect, "WITH x is a data-modifying statement (INSERT)"},
		{"SELECT * FROM db.s.t", lineage.ErrCatalogName, "db.s.t names a database"},
		{"SELECT db.s.f()", lineage.ErrCatalogName, "db.s.f names a database"},
		{"SELECT 1\x00; DROP TABLE x", lineage.ErrSyntax, "NUL byte"},
	}
	for _, tc := range cases {
		_, err := lineage.Parse(tc.sql)
		if !errors.Is(err, tc.kind) || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse(%q) = %v, want %v containing %q", tc.sql, err, tc.kind, tc.msg)
		}
		var le *lineage.Error
		if err != nil && !errors.As(err, &le) {
			t.Errorf("Parse(%q): %T is not *lineage.Error", tc.sql, err)
		}
	}
}
