package lineage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/lineage"
)

// incCatalog is the catalog the qualification tests resolve against.
func incCatalog() (lineage.StaticResolver, lineage.StaticIncrementalCatalog) {
	tables := map[string]lineage.SourceTable{
		"public.orders": {Kind: "r", PrimaryKey: []string{"id"}, Columns: []lineage.SourceColumn{
			{Name: "id", NotNull: true}, {Name: "customer_id"}, {Name: "amount"}, {Name: "status"}, {Name: "created_at"}}},
		"public.customers": {Kind: "r", PrimaryKey: []string{"id"}, Columns: []lineage.SourceColumn{
			{Name: "id", NotNull: true}, {Name: "name"}, {Name: "region"}}},
		"public.events":    {Kind: "r", Columns: []lineage.SourceColumn{{Name: "kind"}, {Name: "n"}}},
		"public.parted":    {Kind: "p", Columns: []lineage.SourceColumn{{Name: "id"}}},
		"public.parent":    {Kind: "r", HasChildren: true, Columns: []lineage.SourceColumn{{Name: "id"}}},
		"public.a_view":    {Kind: "v", Columns: []lineage.SourceColumn{{Name: "id"}}},
		"public.remote":    {Kind: "f", Columns: []lineage.SourceColumn{{Name: "id"}}},
		"public.dollar":    {Kind: "r", Columns: []lineage.SourceColumn{{Name: "$stmt"}}},
		"agent_mv.rollup":  {Kind: "r", Columns: []lineage.SourceColumn{{Name: "customer_id"}, {Name: "total"}}},
		"agent_mv.full_mv": {Kind: "m", Columns: []lineage.SourceColumn{{Name: "customer_id"}}},
	}
	res := lineage.StaticResolver{SearchPath: []string{"agent_mv", "public"}, Relations: map[string]lineage.Resolved{}}
	for k, t := range tables {
		var cols []string
		for _, c := range t.Columns {
			cols = append(cols, c.Name)
		}
		res.Relations[k] = lineage.Resolved{Kind: t.Kind, Columns: cols}
	}
	cat := lineage.StaticIncrementalCatalog{Relations: tables, Funcs: map[string]lineage.FunctionInfo{
		"my_volatile": {Schema: "public", Volatility: "v"},
		"my_stable":   {Schema: "public", Volatility: "s"},
		"to_char":     {Schema: "pg_catalog", Volatility: "s"},
		"my_agg":      {Schema: "public", Volatility: "i", Aggregate: true},
	}}
	return res, cat
}

func incremental(sql string) (*lineage.Incremental, error) {
	res, cat := incCatalog()
	managed := func(n string) bool { return n == "rollup" || n == "full_mv" }
	a, err := lineage.Analyze(context.Background(), sql, lineage.Options{TargetSchema: "agent_mv", Managed: managed, Resolver: res})
	if err != nil {
		return nil, err
	}
	return a.Incremental(context.Background(), lineage.IncrementalOptions{
		Catalog: cat, IsIncremental: func(v string) bool { return v == "rollup" }})
}

// TestIncrementalRejects: each construct incremental refresh cannot keep exact is refused with
// a message that names it.
func TestIncrementalRejects(t *testing.T) {
	cases := []struct{ sql, want string }{
		{"SELECT id FROM orders UNION SELECT id FROM customers", "UNION"},
		{"WITH x AS (SELECT id FROM orders) SELECT id FROM x", "WITH"},
		{"SELECT id FROM orders ORDER BY id LIMIT 10", "LIMIT"},
		{"SELECT 1 AS one", "without FROM"},
		{"SELECT DISTINCT ON (customer_id) customer_id, amount FROM orders", "DISTINCT ON"},
		{"SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers)", "subqueries"},
		{"SELECT id, (SELECT max(id) FROM customers) AS m FROM orders", "subqueries"},
		{"SELECT id FROM orders WHERE created_at > now() - interval '1 day'", "now()"},
		{"SELECT id FROM orders WHERE created_at > current_date", "CURRENT_DATE"},
		{"SELECT customer_id, count(*) AS n FROM orders GROUP BY ROLLUP (customer_id)", "ROLLUP"},
		{"SELECT id, row_number() OVER (ORDER BY id) AS r FROM orders", "window functions"},
		{"SELECT x.id FROM (SELECT id FROM orders) x", "subqueries in FROM"},
		{"SELECT g FROM generate_series(1, 3) g", "functions in FROM"},
		{"SELECT id FROM orders TABLESAMPLE SYSTEM (10)", "TABLESAMPLE"},
		{"SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id, events e", "comma-separated"},
		{"SELECT o.id FROM orders o RIGHT JOIN customers c ON c.id = o.customer_id", "RIGHT JOIN"},
		{"SELECT o.id FROM orders o FULL JOIN customers c ON c.id = o.customer_id", "FULL JOIN"},
		{"SELECT o.id FROM orders o NATURAL JOIN customers c", "NATURAL JOIN"},
		{"SELECT o.id FROM orders o JOIN (customers c JOIN events e ON e.n = c.id) ON c.id = o.customer_id", "parenthesised join"},
		{"SELECT o.id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id OR c.name IS NULL", "comparisons joined by AND"},
		{"SELECT id FROM parted", "partitioned table"},
		{"SELECT id FROM parent", "inheritance children"},
		{"SELECT id FROM a_view", "is a view"},
		{"SELECT id FROM remote", "foreign table"},
		{"SELECT customer_id FROM full_mv", "refreshed in full"},
		{"SELECT id, my_volatile(amount) AS v FROM orders", "VOLATILE"},
		{"SELECT id, my_stable(amount) AS v FROM orders", "STABLE"},
		{"SELECT customer_id, array_agg(id) AS ids FROM orders GROUP BY customer_id", "array_agg() without ORDER BY"},
		{"SELECT count(*) AS n FROM orders GROUP BY customer_id", "GROUP BY customer_id is not in the SELECT list"},
		{"SELECT kind, n FROM events", "events has no primary key"},
		{"SELECT amount FROM orders", "select orders.id (the primary key"},
		{"SELECT c.region, count(*) AS n FROM customers c JOIN events e ON e.n = c.id GROUP BY c.region", "events has no primary key"},
		{"SELECT \"$stmt\", count(*) AS n FROM dollar GROUP BY 1", "reserves"},
		{"SELECT id FROM orders o, orders o", "used twice"},
		{"SELECT public.orders.id FROM orders", "names a schema"},
		{"SELECT o.id, c.name FROM orders o JOIN customers c USING (id)", "USING"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := incremental(tc.sql)
			if !errors.Is(err, lineage.ErrNotIncremental) {
				t.Fatalf("%s: got %v, want ErrNotIncremental", tc.sql, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "refresh_strategy: full") {
				t.Fatalf("%s: error %q does not name %q and the alternative", tc.sql, err, tc.want)
			}
		})
	}
}

// TestIncrementalShapes: the views the issue lists qualify, with the expected key and
// captured columns.
func TestIncrementalShapes(t *testing.T) {
	cases := []struct {
		sql     string
		shape   string
		key     string
		sources string
	}{
		{"SELECT customer_id, count(*) AS n, count(amount) AS c, sum(amount) AS s, avg(amount) AS a, min(amount) AS lo, max(amount) AS hi FROM orders WHERE status <> 'x' GROUP BY customer_id",
			lineage.ShapeGrouped, "customer_id", "public.orders(customer_id,amount,status)"},
		{"SELECT count(*) AS n FROM orders", lineage.ShapeGrouped, "", "public.orders()"},
		{"SELECT DISTINCT status FROM orders", lineage.ShapeGrouped, "status", "public.orders(status)"},
		{"SELECT kind, sum(n) AS n FROM events GROUP BY 1 HAVING sum(n) > 0", lineage.ShapeGrouped, "kind", "public.events(kind,n)"},
		{"SELECT id AS order_id, amount FROM orders WHERE amount > 0", lineage.ShapeRows, "order_id", "public.orders(id,amount) key id"},
		{"SELECT * FROM orders", lineage.ShapeRows, "id", "public.orders(id,customer_id,amount,status,created_at) key id"},
		{"SELECT o.id, o.amount, c.name FROM orders o JOIN customers c ON c.id = o.customer_id",
			lineage.ShapeRows, "id", "public.customers(id,name) public.orders(id,customer_id,amount) key id"},
		{"SELECT o.id, c.name FROM orders o, customers c WHERE c.id = o.customer_id",
			lineage.ShapeRows, "id", "public.customers(id,name) public.orders(id,customer_id) key id"},
		{"SELECT c.id, c.name, count(o.id) AS n, sum(o.amount) AS total FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name",
			lineage.ShapeGrouped, "id,name", "public.customers(id,name) key id public.orders(id,customer_id,amount) key id"},
		{"SELECT customer_id, sum(total) AS total FROM rollup GROUP BY customer_id", lineage.ShapeGrouped, "customer_id", "agent_mv.rollup(customer_id,total) view"},
		{"SELECT status, to_char(created_at, 'YYYY') AS y, my_agg(amount) AS m FROM orders GROUP BY 1, 2", lineage.ShapeGrouped, "status,y", "public.orders(amount,status,created_at)"},
	}
	for _, tc := range cases {
		t.Run(tc.sql, func(t *testing.T) {
			inc, err := incremental(tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			var srcs []string
			for _, s := range inc.Sources {
				d := fmt.Sprintf("%s.%s(%s)", s.Schema, s.Name, strings.Join(s.Columns, ","))
				if len(s.Key) > 0 {
					d += " key " + strings.Join(s.Key, ",")
				}
				if s.View {
					d += " view"
				}
				srcs = append(srcs, d)
			}
			got := fmt.Sprintf("%s %s %s", inc.Shape, strings.Join(inc.Key, ","), strings.Join(srcs, " "))
			if want := fmt.Sprintf("%s %s %s", tc.shape, tc.key, tc.sources); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// TestIncrementalSQL records the maintenance SQL of a few views (testdata/incremental/*.sql;
// -update rewrites them). The statements are proven exact against Postgres by
// TestIncrementalExact; this golden shows what they look like and catches unintended changes.
func TestIncrementalSQL(t *testing.T) {
	cases := map[string]string{
		"grouped":      "SELECT customer_id, count(*) AS n, sum(amount) AS total, min(amount) AS lo FROM orders WHERE status <> 'x' GROUP BY customer_id",
		"rows_join":    "SELECT o.id, o.amount, c.name FROM orders o JOIN customers c ON c.id = o.customer_id",
		"grouped_left": "SELECT c.id, c.name, count(o.id) AS n, sum(o.amount) AS total FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name",
	}
	for name, sql := range cases {
		t.Run(name, func(t *testing.T) {
			inc, err := incremental(sql)
			if err != nil {
				t.Fatal(err)
			}
			n := lineage.IncrementalNames{Storage: `agent_mv.v`, Def: `agent_mv."v$def"`, Stmt: "$stmt", Image: "$img"}
			for i := range inc.Sources {
				n.Logs = append(n.Logs, fmt.Sprintf(`agent_mv."v$log%d"`, i+1))
			}
			m, err := inc.MaintainSQL(n)
			if err != nil {
				t.Fatal(err)
			}
			got := "-- " + sql + "\n-- " + inc.Describe() + "\n" + m + ";\n" + inc.FullSQL(n) + ";\n"
			testutil.CheckGolden(t, filepath.Join("testdata", "incremental", name+".sql"), []byte(got))
		})
	}
}
