package lineage_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/lineage"
)

// pgSchema is the corpus catalog as real objects: tables, a partitioned table with a
// partition, plain views, a materialized view, foreign tables (on a dummy wrapper, so
// postgres_fdw is not needed), and the three managed views in agent_mv.
const pgSchema = `
CREATE SCHEMA sales;
CREATE SCHEMA agent_mv;
CREATE TABLE public.users (id int PRIMARY KEY, name text, email text, created_at timestamptz);
CREATE TABLE public.orders (id int, user_id int, total numeric, amount numeric, status text, created_at timestamptz)
  PARTITION BY RANGE (created_at);
CREATE TABLE public.orders_2024 PARTITION OF public.orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.accounts (id int, user_id int, balance numeric, owner text);
CREATE TABLE public.events (id int, user_id int, kind text, payload jsonb, at timestamptz);
CREATE TABLE public.products (id int, name text, price numeric);
CREATE TABLE public.order_items (order_id int, product_id int, qty int, price numeric);
CREATE TABLE public.employees (id int, manager_id int, name text);
CREATE TABLE public."MyTable" ("Id" int, "Value" text);
CREATE TABLE public.measurements (id int, city_id int, value numeric, at timestamptz) PARTITION BY LIST (city_id);
CREATE TABLE sales.regions (region text, manager text);
CREATE VIEW public.active_users AS SELECT id, name FROM public.users;
CREATE VIEW public.big_orders AS SELECT id, total FROM public.orders WHERE total > 100;
CREATE MATERIALIZED VIEW public.daily_mv AS SELECT created_at::date AS day, count(*) AS n FROM public.orders GROUP BY 1;
CREATE FOREIGN DATA WRAPPER dummy;
CREATE SERVER dummy_srv FOREIGN DATA WRAPPER dummy;
CREATE FOREIGN TABLE sales.orders (id int, customer_id int, amount numeric, region text, at timestamptz) SERVER dummy_srv;
CREATE FOREIGN TABLE public.remote_rates (currency text, rate numeric) SERVER dummy_srv;
CREATE MATERIALIZED VIEW agent_mv.customer_rollup AS
  SELECT user_id, count(*) AS orders, sum(total) AS total FROM public.orders GROUP BY user_id;
CREATE MATERIALIZED VIEW agent_mv.orders_daily AS
  SELECT created_at::date AS day, count(*) AS orders, sum(total) AS revenue FROM public.orders GROUP BY 1;
CREATE MATERIALIZED VIEW agent_mv.top_customers AS
  SELECT user_id, total FROM agent_mv.customer_rollup ORDER BY total DESC LIMIT 10;
`

// pgCases are corpus views created as real materialized views; together they read every
// relkind (tables, partitioned tables, views, materialized views, foreign tables, managed
// views) through CTEs, subqueries, LATERAL, set operations, joins and table functions.
var pgCases = []string{
	"seed_simple", "seed_join", "seed_unqualified", "seed_view_star", "seed_cte", "seed_derived",
	"seed_cte_same_name", "cte_self_named", "cte_recursive", "cte_recursive_tree", "cte_nested_with",
	"cte_shadow_in_subquery_only", "cte_same_name_two_scopes", "subquery_exists", "subquery_lateral",
	"subquery_lateral_join", "subquery_having", "setop_views", "setop_intersect_except",
	"join_using_full", "join_natural", "join_left_right", "join_alias", "values_joined",
	"tfunc_lateral_unnest", "tfunc_json_each", "join_using_alias", "only_table", "quoted_mixed_case", "other_schema",
	"other_schema_same_name", "resolve_relkinds", "resolve_unqualified_search_path", "plain_view_source",
	"matview_source", "view_on_view_join", "view_unqualified", "view_cte_over_view", "expr_whole_row",
	"expr_qualified_star", "agg_window", "agg_filter", "expr_names", "no_relations",
	"tablefunc_with_ordinality_star", "setop_union", "seed_cte_named_like_table", "join_natural_left",
	"window_functions", "tablefunc_json_to_recordset", "subquery_derived_column_aliases", "cte_recursive_self_named_table",
}

const searchPath = "agent_mv, public, sales"

func pgConn(t *testing.T) *pgxpool.Conn {
	t.Helper()
	db := pgtest.NewDB(t)
	pool := db.Pool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, pgSchema); err != nil {
		t.Fatalf("schema: %v", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Release)
	if _, err := conn.Exec(ctx, "SET search_path = "+searchPath); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestAgainstPostgres creates corpus views as real materialized views and checks that our
// table lineage (with PgxResolver) equals what Postgres recorded in pg_depend/pg_rewrite,
// that our output column names equal pg_attribute's, and that every source column of our
// column lineage is one Postgres records as referenced.
func TestAgainstPostgres(t *testing.T) {
	t.Parallel()
	conn := pgConn(t)
	ctx := context.Background()
	resolver := lineage.NewPgxResolver(conn)
	created, columnsChecked := 0, 0
	for _, name := range pgCases {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata/corpus", name+".sql"))
			if err != nil {
				t.Fatal(err)
			}
			sql := strings.TrimRight(strings.TrimSpace(string(b)), ";")
			a, err := lineage.Analyze(ctx, sql, lineage.Options{TargetSchema: "agent_mv", Managed: isManaged, Resolver: resolver})
			if err != nil {
				t.Fatalf("Analyze: %v", err)
			}
			mv := pgx.Identifier{"agent_mv", "t_" + name}.Sanitize()
			if _, err := conn.Exec(ctx, "CREATE MATERIALIZED VIEW "+mv+" AS "+a.Deparsed+" WITH NO DATA"); err != nil {
				t.Fatalf("create %s from our deparse: %v\n%s", name, err, a.Deparsed)
			}
			created++
			// Table lineage.
			var ours []string
			for _, tb := range a.Tables {
				ours = append(ours, tb.Schema+"."+tb.Name+" "+tb.Kind)
			}
			for _, v := range a.Views {
				ours = append(ours, "agent_mv."+v+" m")
			}
			sort.Strings(ours)
			theirs := pgDeps(t, conn, mv)
			if diff := cmp.Diff(theirs, ours, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("table lineage differs from pg_depend (-pg +ours):\n%s", diff)
			}
			// Output columns.
			var cols []string
			if err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(attname::text ORDER BY attnum), '{}') FROM pg_attribute
				WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, mv).Scan(&cols); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(cols, a.OutputColumns); diff != "" {
				t.Errorf("output columns differ from pg_attribute (-pg +ours):\n%s", diff)
			}
			// Column lineage: a subset of the columns Postgres records as referenced (a
			// whole-row reference is recorded as one on the relation, not its columns).
			if name == "expr_whole_row" {
				return
			}
			refs := pgColumnDeps(t, conn, mv)
			for _, c := range a.Columns {
				key := c.SourceSchema + "." + c.SourceRelation + "." + c.SourceColumn
				if !refs[key] {
					t.Errorf("column lineage %s <- %s: Postgres records no reference to it (it has %v)", c.ViewColumn, key, refs)
				}
				columnsChecked++
			}
		})
	}
	if created < 20 {
		t.Errorf("only %d corpus views were created as materialized views, want at least 20", created)
	}
	// The subset check above passes vacuously for a view with no column lineage; make sure
	// the corpus as a whole exercised it.
	if columnsChecked < 20 {
		t.Errorf("only %d column-lineage edges were checked against pg_depend, want at least 20", columnsChecked)
	}
}

// pgDeps lists the relations a view's rewrite rule depends on, as "schema.name relkind".
func pgDeps(t *testing.T, conn *pgxpool.Conn, mv string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT DISTINCT n.nspname || '.' || c.relname || ' ' || c.relkind::text
		  FROM pg_depend d
		  JOIN pg_rewrite r ON r.oid = d.objid
		  JOIN pg_class c ON c.oid = d.refobjid
		  JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
		   AND d.deptype = 'n' AND r.ev_class = $1::regclass AND d.refobjid <> r.ev_class
		 ORDER BY 1`, mv)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pgColumnDeps lists the columns a view's rewrite rule references, as "schema.rel.col".
func pgColumnDeps(t *testing.T, conn *pgxpool.Conn, mv string) map[string]bool {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT DISTINCT n.nspname || '.' || c.relname || '.' || a.attname
		  FROM pg_depend d
		  JOIN pg_rewrite r ON r.oid = d.objid
		  JOIN pg_class c ON c.oid = d.refobjid
		  JOIN pg_namespace n ON n.oid = c.relnamespace
		  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		 WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
		   AND r.ev_class = $1::regclass AND d.refobjsubid > 0`, mv)
	if err != nil {
		t.Fatal(err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

// TestPgxResolver resolves names the way Postgres does: search_path for unqualified names,
// quoted identifiers kept as written, every relkind, columns in attnum order without dropped
// ones, unknown names reported as not found — all in one query.
func TestPgxResolver(t *testing.T) {
	t.Parallel()
	conn := pgConn(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `ALTER TABLE public.products DROP COLUMN name`); err != nil {
		t.Fatal(err)
	}
	in := []lineage.Relation{
		{Name: "users"}, {Schema: "public", Name: "orders"}, {Name: "active_users"}, {Name: "daily_mv"},
		{Schema: "sales", Name: "orders"}, {Name: "regions"}, {Name: "MyTable"}, {Name: "mytable"},
		{Name: "customer_rollup"}, {Name: "products"}, {Schema: "nope", Name: "x"}, {Name: "measurements"},
		{Schema: "public", Name: "users"}, {Name: "users; DROP TABLE users"},
	}
	got, err := lineage.NewPgxResolver(conn).Resolve(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []lineage.Resolved{
		{Found: true, Schema: "public", Name: "users", Kind: "r", Columns: []string{"id", "name", "email", "created_at"}},
		{Found: true, Schema: "public", Name: "orders", Kind: "p", Columns: []string{"id", "user_id", "total", "amount", "status", "created_at"}},
		{Found: true, Schema: "public", Name: "active_users", Kind: "v", Columns: []string{"id", "name"}},
		{Found: true, Schema: "public", Name: "daily_mv", Kind: "m", Columns: []string{"day", "n"}},
		{Found: true, Schema: "sales", Name: "orders", Kind: "f", Columns: []string{"id", "customer_id", "amount", "region", "at"}},
		{Found: true, Schema: "sales", Name: "regions", Kind: "r", Columns: []string{"region", "manager"}},
		{Found: true, Schema: "public", Name: "MyTable", Kind: "r", Columns: []string{"Id", "Value"}},
		{Columns: []string{}},
		{Found: true, Schema: "agent_mv", Name: "customer_rollup", Kind: "m", Columns: []string{"user_id", "orders", "total"}},
		{Found: true, Schema: "public", Name: "products", Kind: "r", Columns: []string{"id", "price"}},
		{Columns: []string{}},
		{Found: true, Schema: "public", Name: "measurements", Kind: "p", Columns: []string{"id", "city_id", "value", "at"}},
		{Found: true, Schema: "public", Name: "users", Kind: "r", Columns: []string{"id", "name", "email", "created_at"}},
		{Columns: []string{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resolve (-want +got):\n%s", diff)
	}
	// Empty input: no query at all.
	if out, err := lineage.NewPgxResolver(conn).Resolve(ctx, nil); err != nil || len(out) != 0 {
		t.Errorf("Resolve(nil) = %v, %v", out, err)
	}
	// Through Analyze: a table in the target schema that is not managed is refused, an unknown
	// relation is named, and unqualified names follow search_path (sales.regions).
	for sql, wantErr := range map[string]string{
		"SELECT * FROM agent_mv.nope":           "agent_mv.nope is not a managed view",
		"SELECT * FROM ghost":                   "relation ghost does not exist",
		"SELECT region FROM regions":            "",
		"SELECT * FROM customer_rollup, orders": "",
	} {
		a, err := lineage.Analyze(ctx, sql, lineage.Options{TargetSchema: "agent_mv", Managed: isManaged, Resolver: lineage.NewPgxResolver(conn)})
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", sql, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: error %v, want %q", sql, err, wantErr)
		case wantErr == "" && sql == "SELECT region FROM regions" && !slices.Equal(a.Columns, []lineage.ColumnEdge{{ViewColumn: "region", SourceSchema: "sales", SourceRelation: "regions", SourceColumn: "region"}}):
			t.Errorf("%s: columns %v", sql, a.Columns)
		}
	}
}
