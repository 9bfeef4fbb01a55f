package tools_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/tools"
)

// managed stands for the registry: two views and agentmv's metadata tables.
var managed = []string{"orders_daily", "customer_rollup", "views", "lineage", "column_lineage", "refresh_history"}

func isManaged(name string) bool { return slices.Contains(managed, name) }

func TestCheckQuery(t *testing.T) {
	cases := []struct {
		name    string
		sql     string
		want    string // "" = accepted, else the error type
		wantMsg string // substring of the message (rejected) or of the deparsed SQL (accepted)
	}{
		// Accepted.
		{"plain view", "SELECT * FROM orders_daily", "", "orders_daily"},
		{"qualified view", "SELECT day FROM agent_mv.orders_daily", "", "agent_mv.orders_daily"},
		{"union of two views", "SELECT day FROM orders_daily UNION SELECT day FROM customer_rollup", "", "UNION"},
		{"cte over a view", "WITH x AS (SELECT * FROM orders_daily) SELECT * FROM x", "", "WITH x"},
		{"subquery in from", "SELECT * FROM (SELECT * FROM orders_daily) s", "", "orders_daily"},
		{"subquery in where", "SELECT * FROM orders_daily WHERE day IN (SELECT day FROM customer_rollup)", "", "customer_rollup"},
		{"join", "SELECT o.* FROM orders_daily o JOIN agent_mv.customer_rollup c USING (day)", "", "JOIN"},
		{"aggregates and built-ins", "SELECT count(*), sum(total), date_trunc('month', day), coalesce(max(total), 0) FROM orders_daily GROUP BY 3", "", "date_trunc"},
		{"pg_catalog-qualified built-in", "SELECT pg_catalog.lower(name) FROM customer_rollup", "", "lower"},
		{"window function", "SELECT row_number() OVER (ORDER BY total) FROM orders_daily", "", "row_number"},
		{"metadata table", "SELECT view_name, status FROM refresh_history ORDER BY started_at DESC", "", "refresh_history"},
		{"agent's own limit kept", "SELECT * FROM orders_daily LIMIT 5", "", "LIMIT 5"},
		{"no relation", "SELECT 1 AS one", "", "1"},

		// Not one plain SELECT.
		{"stacked drop", "SELECT 1; DROP TABLE orders", tools.ErrNotAllowed, ""},
		{"commit then write", "COMMIT; DELETE FROM orders", tools.ErrNotAllowed, ""},
		{"select then commit", "SELECT 1; COMMIT", tools.ErrNotAllowed, ""},
		{"writable cte", "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", tools.ErrNotAllowed, ""},
		{"select into", "SELECT * INTO stolen FROM orders_daily", tools.ErrNotAllowed, ""},
		{"for update", "SELECT * FROM orders_daily FOR UPDATE", tools.ErrNotAllowed, ""},
		{"for share in subquery", "SELECT * FROM (SELECT * FROM orders_daily FOR SHARE) s", tools.ErrNotAllowed, ""},
		{"insert", "INSERT INTO orders VALUES (1)", tools.ErrNotAllowed, ""},
		{"explain analyze", "EXPLAIN ANALYZE SELECT * FROM orders_daily", tools.ErrNotAllowed, ""},
		{"set", "SET statement_timeout = 0", tools.ErrNotAllowed, ""},

		// Relations outside the managed views.
		{"pg_matviews", "SELECT definition FROM pg_matviews", tools.ErrNotAllowed, "pg_matviews"},
		{"pg_matviews in scalar subquery", "SELECT (SELECT definition FROM pg_matviews LIMIT 1)", tools.ErrNotAllowed, "pg_matviews"},
		{"pg_catalog table", "SELECT * FROM pg_catalog.pg_class", tools.ErrNotAllowed, "pg_catalog.pg_class"},
		{"information_schema", "SELECT * FROM information_schema.tables", tools.ErrNotAllowed, "information_schema.tables"},
		{"base table qualified", "SELECT * FROM public.orders", tools.ErrNotAllowed, "public.orders"},
		{"base table unqualified", "SELECT * FROM orders", tools.ErrNotAllowed, "orders"},
		{"base table in subquery", "SELECT * FROM orders_daily WHERE day IN (SELECT created_at FROM public.orders)", tools.ErrNotAllowed, "public.orders"},
		{"catalog view in lateral", "SELECT * FROM orders_daily, LATERAL (SELECT * FROM pg_stat_activity) a", tools.ErrNotAllowed, "pg_stat_activity"},
		{"managed name in another schema", "SELECT * FROM public.orders_daily", tools.ErrNotAllowed, "public.orders_daily"},
		{"quoted name is another name", `SELECT * FROM "Orders_Daily"`, tools.ErrNotAllowed, "Orders_Daily"},
		{"cte name does not launder a table", "WITH orders_daily AS (SELECT * FROM public.orders) SELECT * FROM orders_daily", tools.ErrNotAllowed, "public.orders"},

		// Functions.
		{"set_config", "SELECT set_config('statement_timeout', '0', false)", tools.ErrNotAllowed, "set_config"},
		{"pg_sleep", "SELECT pg_sleep(60)", tools.ErrNotAllowed, "pg_sleep"},
		{"pg_sleep_for", "SELECT pg_sleep_for('1 minute') FROM orders_daily", tools.ErrNotAllowed, "pg_sleep_for"},
		{"pg_get_viewdef", "SELECT pg_get_viewdef('agent_mv.orders_daily')", tools.ErrNotAllowed, "pg_get_viewdef"},
		{"qualified pg_get_viewdef", "SELECT pg_catalog.pg_get_viewdef('agent_mv.orders_daily'::regclass)", tools.ErrNotAllowed, "pg_get_viewdef"},
		{"pg_read_file", "SELECT pg_read_file('/etc/passwd')", tools.ErrNotAllowed, "pg_read_file"},
		{"pg_ls_dir in from", "SELECT * FROM pg_ls_dir('.')", tools.ErrNotAllowed, "pg_ls_dir"},
		{"lo_import", "SELECT lo_import('/etc/passwd')", tools.ErrNotAllowed, "lo_import"},
		{"dblink", "SELECT * FROM orders_daily WHERE dblink_connect('x') = 'OK'", tools.ErrNotAllowed, "dblink_connect"},
		{"advisory lock", "SELECT pg_advisory_lock(1)", tools.ErrNotAllowed, "pg_advisory_lock"},
		{"try advisory lock", "SELECT pg_try_advisory_xact_lock(1)", tools.ErrNotAllowed, "pg_try_advisory_xact_lock"},
		{"terminate backend", "SELECT pg_terminate_backend(1)", tools.ErrNotAllowed, "pg_terminate_backend"},
		{"current_setting", "SELECT current_setting('data_directory')", tools.ErrNotAllowed, "current_setting"},
		{"nextval", "SELECT nextval('s')", tools.ErrNotAllowed, "nextval"},
		{"query_to_xml runs sql text", "SELECT query_to_xml('SELECT * FROM public.orders', true, true, '')", tools.ErrNotAllowed, "query_to_xml"},
		{"ts_stat runs sql text", "SELECT * FROM ts_stat('SELECT v FROM public.docs')", tools.ErrNotAllowed, "ts_stat"},
		{"pg_notify", "SELECT pg_notify('c', 'x')", tools.ErrNotAllowed, "pg_notify"},
		{"function in a nested expression", "SELECT coalesce(max(total), pg_sleep(5)::text::int) FROM orders_daily", tools.ErrNotAllowed, "pg_sleep"},
		{"unqualified refresh function", "SELECT refresh_view('orders_daily')", tools.ErrNotAllowed, "refresh_view"},
		{"qualified refresh function", "SELECT agent_mv.refresh_view('orders_daily')", tools.ErrNotAllowed, "agent_mv.refresh_view"},
		{"user function", "SELECT public.leak() FROM orders_daily", tools.ErrNotAllowed, "public.leak"},
		{"upper-case call is folded", "SELECT PG_SLEEP(1)", tools.ErrNotAllowed, "pg_sleep"},

		// Not SQL.
		{"syntax error", "SELEC 1", tools.ErrSyntax, ""},
		{"unterminated string", "SELECT 'abc FROM orders_daily", tools.ErrSyntax, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, deparsed, err := tools.CheckQuery(tc.sql, "agent_mv", isManaged)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if q == nil || !strings.Contains(deparsed, tc.wantMsg) {
					t.Errorf("deparsed = %q, want it to contain %q", deparsed, tc.wantMsg)
				}
				// The deparsed text is itself acceptable and means the same query.
				if _, again, err := tools.CheckQuery(deparsed, "agent_mv", isManaged); err != nil || again != deparsed {
					t.Errorf("deparsed text not stable: %q -> %q, %v", deparsed, again, err)
				}
				if !strings.Contains(strings.ToUpper(tc.sql), "LIMIT") && strings.Contains(strings.ToUpper(deparsed), "LIMIT") {
					t.Errorf("a LIMIT was added: %s", deparsed)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, deparsed = %s", deparsed)
			}
			var te *tools.ToolError
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *ToolError: %v", err, err)
			}
			if te.ErrorType != tc.want || !strings.Contains(te.Message, tc.wantMsg) || te.Hint == "" {
				t.Errorf("got %+v, want %s with message containing %q", te, tc.want, tc.wantMsg)
			}
		})
	}
}

func TestDeniedFunctionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range tools.DeniedFunctions {
		if r.Why == "" || r.Pattern != strings.ToLower(r.Pattern) || seen[r.Pattern] {
			t.Errorf("bad or duplicate rule %+v", r)
		}
		seen[r.Pattern] = true
	}
	// Every pattern denies at least one real call.
	for _, fn := range []string{"pg_get_viewdef", "pg_get_functiondef", "pg_read_binary_file", "pg_ls_waldir",
		"lo_export", "dblink_exec", "pg_sleep_until", "pg_advisory_xact_lock_shared", "txid_current",
		"pg_current_xact_id_if_assigned", "table_to_xmlschema", "cursor_to_xml", "database_to_xml_and_xmlschema",
		"pg_logical_emit_message", "pg_replication_origin_create", "pg_create_restore_point", "pg_drop_replication_slot",
		"pg_file_write", "pg_backup_start", "pg_stat_reset_shared"} {
		q := "SELECT " + fn + "()"
		if _, _, err := tools.CheckQuery(q, "agent_mv", isManaged); tools.ErrorTypeOf(err) != tools.ErrNotAllowed {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// End to end on Postgres: the guard's output runs, and a union of two views works.
func TestCheckThenExec(t *testing.T) {
	t.Parallel()
	_, pool := fixture(t)
	allowed := func(n string) bool { return n == "thousand" || n == "typed" }
	_, deparsed, err := tools.CheckQuery("SELECT n FROM thousand WHERE n <= 2 UNION ALL SELECT i4 FROM agent_mv.typed ORDER BY 1", schema, allowed)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tools.ExecQuery(context.Background(), pool, schema, deparsed, tools.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowCount != 3 || res.Columns[0].Name != "n" {
		t.Errorf("result = %+v", res)
	}
}
