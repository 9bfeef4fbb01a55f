package agentmv_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/internal/testutil"
)

// TestAttackSuite connects as the runtime role over TCP with its password and tries to get
// past the boundary. Every attempt must fail with a permission (or read-only / allowlist)
// error, and change nothing. Each attack would succeed if the boundary were not there: the
// same statements are first shown to work as the admin.
func TestAttackSuite(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	ctx := context.Background()
	before := pr.snapshot() + baseTablesDigest(t, pr)

	owner := pr.settings.OwnerRole
	attacks := []struct {
		name string
		sql  string
		// codes the attempt may fail with; empty = permission denied (42501)
		codes []string
	}{
		{"read base table users", "SELECT * FROM public.users", nil},
		{"read base table orders", "SELECT * FROM public.orders", nil},
		{"read base table payments", "SELECT * FROM public.payments", nil},
		{"read base table products", "SELECT * FROM public.products", nil},
		{"read base table order_items", "SELECT * FROM public.order_items", nil},
		{"read one column of a base table", "SELECT email FROM public.users", nil},
		{"insert into a base table", "INSERT INTO public.users (email, created_at) VALUES ('x@y', now())", nil},
		{"update a base table", "UPDATE public.users SET email = 'pwned'", nil},
		{"delete from a base table", "DELETE FROM public.payments", nil},
		{"truncate a base table", "TRUNCATE public.orders CASCADE", nil},
		{"insert into a view", "INSERT INTO agent_mv.customer_rollup (customer_id) VALUES (1)", []string{"42501", "42809"}},
		{"update a view", "UPDATE agent_mv.customer_rollup SET email = 'x'", []string{"42501", "42809"}},
		{"delete from a view", "DELETE FROM agent_mv.daily_revenue", []string{"42501", "42809"}},
		{"truncate a view", "TRUNCATE agent_mv.customer_rollup", []string{"42501", "42809"}},
		{"refresh a view directly", "REFRESH MATERIALIZED VIEW agent_mv.customer_rollup", nil},
		{"drop a view", "DROP MATERIALIZED VIEW agent_mv.customer_rollup", nil},
		{"write the registry", "INSERT INTO agent_mv.views (name, description, sql_hash) VALUES ('users', '', '')", nil},
		{"rewrite history", "DELETE FROM agent_mv.refresh_history", nil},
		{"forge lineage", "UPDATE agent_mv.lineage SET source_name = 'x'", nil},
		{"create table in public", "CREATE TABLE public.pwn (id int)", nil},
		{"create table in agent_mv", "CREATE TABLE agent_mv.pwn (id int)", nil},
		{"create temp table", "CREATE TEMP TABLE pwn (id int)", nil},
		{"create function", "CREATE FUNCTION public.pwn() RETURNS int LANGUAGE sql AS 'SELECT 1'", nil},
		{"create schema", "CREATE SCHEMA pwn", nil},
		{"become the owner role", "SET ROLE " + pgx.Identifier{owner}.Sanitize(), nil},
		{"become the superuser", "SET ROLE postgres", nil},
		{"read a server file", "SELECT pg_read_file('postgresql.conf')", nil},
		{"list the data directory", "SELECT pg_ls_dir('.')", nil},
		{"copy to program", "COPY (SELECT 1) TO PROGRAM 'id'", nil},
		{"copy from a server file", "COPY public.users FROM '/etc/passwd'", nil},
		{"import a large object", "SELECT lo_import('/etc/passwd')", nil},
		{"refresh an unmanaged name", "SELECT agent_mv.refresh_view('users')", []string{"42704"}},
		{"refresh a schema-qualified base table", "SELECT agent_mv.refresh_view('public.users')", []string{"42704"}},
		{"refresh with injection", "SELECT agent_mv.refresh_view('x; drop table users')", []string{"42704"}},
		{"refresh with a 200-char name", "SELECT agent_mv.refresh_view('" + strings.Repeat("a", 200) + "')", []string{"22023"}},
		{"alter the refresh function", "ALTER FUNCTION agent_mv.refresh_view(text) SECURITY INVOKER", nil},
		{"grant itself a base table", "GRANT SELECT ON public.users TO CURRENT_USER", nil},
		{"alter its own role", "ALTER ROLE CURRENT_USER BYPASSRLS", nil},
		{"read password hashes", "SELECT rolpassword FROM pg_authid", nil},
		{"stat a server file", "SELECT pg_stat_file('postgresql.conf')", nil},
	}
	if len(attacks) < 30 {
		t.Fatalf("only %d attacks", len(attacks))
	}
	runtime, err := pgx.Connect(ctx, pr.settings.RuntimeURL)
	if err != nil {
		t.Fatalf("runtime role login over TCP: %v", err)
	}
	defer runtime.Close(ctx)
	// The session starts read-only (a role default apply sets), which an attacker turns off
	// first: what follows must be refused by privileges, not by the read-only default.
	var readOnly string
	if err := runtime.QueryRow(ctx, "SHOW default_transaction_read_only").Scan(&readOnly); err != nil || readOnly != "on" {
		t.Fatalf("runtime session starts with default_transaction_read_only = %q (%v), want on", readOnly, err)
	}
	if _, err := runtime.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		t.Fatal(err)
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			_, err := runtime.Exec(ctx, a.sql)
			var pgErr *pgconn.PgError
			if err == nil || !errors.As(err, &pgErr) {
				t.Fatalf("attack succeeded (err %v): %s", err, a.sql)
			}
			want := a.codes
			if want == nil {
				want = []string{"42501"}
			}
			for _, c := range want {
				if pgErr.Code == c {
					return
				}
			}
			t.Errorf("failed with %s %q, want SQLSTATE in %v", pgErr.Code, pgErr.Message, want)
		})
	}
	// The same kind of statement works for the admin: the attacks could have succeeded.
	if _, err := pr.admin.Exec(ctx, "SELECT * FROM public.users"); err != nil {
		t.Fatalf("admin cannot read base table: %v", err)
	}
	// A role that was never granted the function cannot call it even with schema USAGE.
	stranger := pr.db.CreateLoginRole(t, pr.db.Prefix+"_stranger", "pw")
	if _, err := pr.admin.Exec(ctx, "GRANT USAGE ON SCHEMA agent_mv TO "+pgx.Identifier{pr.db.Prefix + "_stranger"}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	sc, err := pgx.Connect(ctx, stranger)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(ctx)
	_, err = sc.Exec(ctx, "SELECT agent_mv.refresh_view('customer_rollup')")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("an ungranted role called refresh_view: %v", err)
	}
	if after := pr.snapshot() + baseTablesDigest(t, pr); after != before {
		t.Errorf("the attacks changed something:\nbefore %s\nafter  %s", before, after)
	}
}

// TestAttackDblink: with dblink installed by the admin, the runtime role tries to reach the
// server as the superuser through a connection that needs no password (the cluster's Unix
// socket, trust authentication). The same statement run by the admin succeeds and reads
// pg_authid, so the attack is real; as the runtime role it must be refused — dblink's own
// rule that a non-superuser must authenticate with a password (2F003), or no EXECUTE on
// dblink (42501). "function does not exist" (42883) would mean the test proved nothing, so
// a missing dblink skips locally and fails under CI=true.
func TestAttackDblink(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	ctx := context.Background()
	cluster := pgtest.Cluster()
	if cluster == nil {
		testutil.SkipOrFail(t, "needs the throwaway pgtest cluster (its trust socket); the server is from %s", pgtest.Source())
	}
	if _, err := pr.admin.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS dblink"); err != nil {
		testutil.SkipOrFail(t, "CREATE EXTENSION dblink: %v (install the server's contrib modules, e.g. apt-get install -y postgresql-contrib)", err)
	}
	const attack = "SELECT n FROM dblink($1, 'SELECT count(*)::int FROM pg_catalog.pg_authid') AS t(n int)"
	target := cluster.SocketURL("postgres")
	var n int
	if err := pr.admin.QueryRow(ctx, attack, target).Scan(&n); err != nil || n == 0 {
		t.Fatalf("the admin's dblink to %q: %d rows of pg_authid, %v; the attack below would prove nothing", target, n, err)
	}
	runtime, err := pgx.Connect(ctx, pr.settings.RuntimeURL)
	if err != nil {
		t.Fatalf("runtime role login over TCP: %v", err)
	}
	defer runtime.Close(ctx)
	err = runtime.QueryRow(ctx, attack, target).Scan(&n)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("dblink as the runtime role: %d, %v; want a refusal", n, err)
	}
	if pgErr.Code != "2F003" && pgErr.Code != "42501" {
		t.Fatalf("dblink as the runtime role failed with %s %q, want 2F003 (password required) or 42501", pgErr.Code, pgErr.Message)
	}
	t.Logf("refused: %s %s", pgErr.Code, pgErr.Message)
}

// baseTablesDigest summarises the base tables' contents.
func baseTablesDigest(t *testing.T, pr *project) string {
	t.Helper()
	var s string
	err := pr.admin.QueryRow(context.Background(), `SELECT
		(SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM public.users u) ||
		(SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM public.orders o) ||
		(SELECT md5(string_agg(p::text, ',' ORDER BY id)) FROM public.payments p) ||
		(SELECT count(*)::text FROM pg_class WHERE relname = 'pwn')`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDoctorOnApply: green on a fresh apply; ✗ naming the table after a PUBLIC grant; ✗ after
// BYPASSRLS.
func TestDoctorOnApply(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	ctx := context.Background()
	rep, err := pr.open().Doctor(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("doctor on a fresh apply: %v\n%s", err, rep)
	}
	if _, err := pr.admin.Exec(ctx, "GRANT SELECT ON public.payments TO PUBLIC"); err != nil {
		t.Fatal(err)
	}
	rep, _ = pr.open().Doctor(ctx)
	if rep.OK() || !strings.Contains(rep.String(), "✗ access boundary FAILED: runtime role can read public.payments") {
		t.Errorf("doctor after GRANT SELECT TO PUBLIC:\n%s", rep)
	}
	if _, err := pr.admin.Exec(ctx, "REVOKE SELECT ON public.payments FROM PUBLIC"); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.admin.Exec(ctx, "ALTER ROLE "+pgx.Identifier{pr.settings.RuntimeRole}.Sanitize()+" BYPASSRLS"); err != nil {
		t.Fatal(err)
	}
	rep, _ = pr.open().Doctor(ctx)
	if rep.OK() || !strings.Contains(rep.String(), "BYPASSRLS") {
		t.Errorf("doctor after BYPASSRLS:\n%s", rep)
	}
}
