package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The direct-DSN attack suite: the runtime role's password sits in .mcp.json or .env, where
// any agent on the machine can read it, so the boundary is what that role can do in a plain
// Postgres session, not what query_view allows. Each attack below runs as the runtime role
// over TCP with its password (pgx, no agentmv code in between) and must either be refused by
// Postgres, leak nothing, or be reported by `agent-mv doctor` (exit 1, naming it) until the
// fix doctor prints is run. The query_view suite (tools, attack_test.go) is its sibling.

// directSeed: a secret column, a secret large object, dblink and a loopback foreign server
// installed by the admin (an attacker would love them), and a role another application uses.
const directSeed = `
CREATE TABLE public.users (id serial PRIMARY KEY, email text NOT NULL, secret text NOT NULL);
INSERT INTO public.users (email, secret) SELECT 'u' || g || '@x', 'secret-' || g FROM generate_series(1, 20) g;
SELECT lo_from_bytea(4242, 'lo-secret');
CREATE EXTENSION dblink;
CREATE EXTENSION postgres_fdw;
CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'postgres');
CREATE FOREIGN TABLE public.remote_users (id int, secret text) SERVER loopback OPTIONS (table_name 'users');
`

// directLimit is the runtime role's connection limit in this suite.
const directLimit = 4

const directYAML = `version: 1
target_schema: agent_mv
public_privileges:
  revoke_temporary: true
  revoke_create_on_public_schema: true
runtime_role:
  connection_limit: 4
  idle_in_transaction_session_timeout: 1s
views:
  - name: user_count
    sql_file: materialize/user_count.sql
    description: How many users there are.
`

// secrets are strings no answer to the runtime role may contain.
var secrets = []string{"secret-1", "lo-secret", "admin-secret-query"}

func directProject(t *testing.T) *project {
	t.Helper()
	pr := newProject(t, directSeed)
	pr.write("materialize.yaml", directYAML)
	pr.write("materialize/user_count.sql", "SELECT count(*) AS users FROM public.users\n")
	pr.mustRun("apply", "--yes")
	pr.requireGreen("after apply")
	return pr
}

// attacker opens a plain session as the runtime role over TCP with its password, and turns
// off the read-only default first, as an attacker would: every refusal below must come from
// privileges, not from that default.
func (pr *project) attacker(ctx context.Context) *pgx.Conn {
	pr.t.Helper()
	conn, err := pgx.Connect(ctx, pr.db.URL(pr.runtimeRole(), runtimePassword))
	if err != nil {
		pr.t.Fatalf("runtime role login over TCP: %v", err)
	}
	pr.t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		pr.t.Fatal(err)
	}
	return conn
}

// TestDirectDSNRefused: what a curious agent with the runtime DSN tries in psql, each refused
// by Postgres (or answered without any secret). The same statements work for the admin (shown
// for the reads), so each attack could have succeeded.
func TestDirectDSNRefused(t *testing.T) {
	pr := directProject(t)
	ctx := context.Background()
	rt := pr.attacker(ctx)
	db := pgx.Identifier{pr.db.Name}.Sanitize()
	owner := pgx.Identifier{pr.ownerRole()}.Sanitize()

	// The read-only default is on for a fresh session: writes fail before privileges are asked.
	plain, err := pgx.Connect(ctx, pr.db.URL(pr.runtimeRole(), runtimePassword))
	if err != nil {
		t.Fatal(err)
	}
	_, err = plain.Exec(ctx, "CREATE TABLE public.pwn (id int)")
	plain.Close(ctx)
	if code := sqlstate(err); code != "25006" {
		t.Errorf("a fresh runtime session wrote (or failed with %q, not 25006 read-only): %v", code, err)
	}

	// An admin session that has just run a query mentioning a secret, left idle in a
	// transaction: its query text must not be visible to the runtime role.
	adminConn, err := pgx.Connect(ctx, pr.db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close(ctx)
	if _, err := adminConn.Exec(ctx, "SELECT 'admin-secret-query'"); err != nil {
		t.Fatal(err)
	}
	adminPID := adminConn.PgConn().PID()

	refused := []struct {
		name, sql string
		codes     []string // empty: 42501 insufficient_privilege
	}{
		// Reading base data by every route.
		{"select a table", "SELECT * FROM public.users", nil},
		{"select one column", "SELECT secret FROM public.users", nil},
		{"explain a table", "EXPLAIN SELECT * FROM public.users", nil},
		{"read a sequence", "SELECT last_value FROM public.users_id_seq", nil},
		{"advance a sequence", "SELECT nextval('public.users_id_seq')", nil},
		{"read a foreign table", "SELECT * FROM public.remote_users", nil},
		{"read a large object", "SELECT lo_get(4242)", nil},
		{"open a large object", "SELECT loread(lo_open(4242, 262144), 100)", nil},
		{"write a large object", "SELECT lo_put(4242, 0, 'x')", nil},
		{"read pg_largeobject", "SELECT data FROM pg_catalog.pg_largeobject", nil},
		{"read password hashes", "SELECT rolpassword FROM pg_catalog.pg_authid", nil},
		{"read user mapping options", "SELECT * FROM pg_catalog.pg_user_mapping", nil},
		{"read a server file", "SELECT pg_read_file('/etc/passwd')", nil},
		{"read the control file", "SELECT pg_read_binary_file('global/pg_control')", nil},
		{"list the data directory", "SELECT pg_ls_dir('.')", nil},
		{"copy from a server file", "COPY public.users FROM '/etc/passwd'", nil},
		{"copy to a server file", "COPY (SELECT 1) TO '/tmp/agentmv-pwn'", nil},
		{"copy to a program", "COPY (SELECT 1) TO PROGRAM 'id'", nil},
		{"import a large object from a file", "SELECT lo_import('/etc/passwd')", nil},
		{"export a large object to a file", "SELECT lo_export(4242, '/tmp/agentmv-pwn')", nil},
		// Functions that run SQL from text run it as the caller.
		{"query_to_xml", "SELECT query_to_xml('SELECT * FROM public.users', true, false, '')", nil},
		{"table_to_xml", "SELECT table_to_xml('public.users', true, false, '')", nil},
		{"ts_stat", "SELECT * FROM ts_stat('SELECT to_tsvector(secret) FROM public.users')", nil},
		{"DO block", "DO $$ BEGIN PERFORM * FROM public.users; END $$", nil},
		{"DO block with EXECUTE", "DO $$ BEGIN EXECUTE 'SELECT secret FROM public.users'; END $$", nil},
		{"cursor", "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM public.users", nil},
		{"dblink as the superuser", "SELECT * FROM dblink('host=127.0.0.1 dbname=" + pr.db.Name + " user=postgres', 'SELECT secret FROM public.users') AS t(s text)", []string{"2F003"}},
		{"dblink through the loopback server", "SELECT * FROM dblink('loopback', 'SELECT secret FROM public.users') AS t(s text)", []string{"42501", "42704"}},
		{"refresh an unmanaged name", "SELECT agent_mv.refresh_view('users')", []string{"42704"}},
		// Creating objects.
		{"create a table", "CREATE TABLE public.pwn (id int)", nil},
		{"create a table in agent_mv", "CREATE TABLE agent_mv.pwn (id int)", nil},
		{"create a schema", "CREATE SCHEMA pwn", nil},
		{"create a temporary table", "CREATE TEMP TABLE pwn (id int)", nil},
		{"create a temporary function", "CREATE FUNCTION pg_temp.pwn() RETURNS int LANGUAGE sql AS 'SELECT 1'", nil},
		{"create a trusted extension", "CREATE EXTENSION pgcrypto", nil},
		{"create a role", "CREATE ROLE pwn", nil},
		{"create a database", "CREATE DATABASE pwn", nil},
		{"create a foreign server", "CREATE SERVER pwn FOREIGN DATA WRAPPER postgres_fdw", nil},
		{"create a user mapping", "CREATE USER MAPPING FOR CURRENT_USER SERVER loopback OPTIONS (user 'postgres', password 'x')", nil},
		{"create a publication", "CREATE PUBLICATION pwn FOR TABLE public.users", nil},
		// Changing settings and roles.
		{"alter the system", "ALTER SYSTEM SET work_mem = '1GB'", nil},
		{"alter the database", "ALTER DATABASE " + db + " SET default_transaction_read_only = off", nil},
		{"lift its connection limit", "ALTER ROLE CURRENT_USER CONNECTION LIMIT -1", nil},
		{"give itself CREATEDB", "ALTER ROLE CURRENT_USER CREATEDB", nil},
		{"give itself BYPASSRLS", "ALTER ROLE CURRENT_USER BYPASSRLS", nil},
		{"turn off triggers", "SET session_replication_role = replica", nil},
		{"open every large object", "SET lo_compat_privileges = on", nil},
		{"become the owner role", "SET ROLE " + owner, nil},
		{"become the superuser", "SET SESSION AUTHORIZATION postgres", nil},
		{"load a library", "LOAD 'auto_explain'", nil},
		{"grant itself a table", "GRANT SELECT ON public.users TO CURRENT_USER", nil},
		{"alter the admin's default privileges", "ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT SELECT ON TABLES TO PUBLIC", nil},
		{"alter the refresh function", "ALTER FUNCTION agent_mv.refresh_view(text) SECURITY INVOKER", nil},
		{"refresh a view directly", "REFRESH MATERIALIZED VIEW agent_mv.user_count", nil},
		{"lock a view (in a transaction)", "LOCK TABLE agent_mv.user_count IN ACCESS EXCLUSIVE MODE", []string{"42501", "42809"}},
		{"lock a base table (in a transaction)", "LOCK TABLE public.users IN SHARE MODE", nil},
		{"terminate the admin's session", fmt.Sprintf("SELECT pg_terminate_backend(%d)", adminPID), nil},
		{"cancel the admin's query", fmt.Sprintf("SELECT pg_cancel_backend(%d)", adminPID), nil},
	}
	for _, a := range refused {
		t.Run(a.name, func(t *testing.T) {
			var err error
			if strings.HasPrefix(a.sql, "LOCK ") {
				// LOCK needs a transaction block (else it fails before the privilege check).
				err = pgx.BeginFunc(ctx, rt, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, a.sql)
					return err
				})
			} else {
				_, err = rt.Exec(ctx, a.sql)
			}
			want := a.codes
			if len(want) == 0 {
				want = []string{"42501"}
			}
			code := sqlstate(err)
			for _, c := range want {
				if code == c {
					return
				}
			}
			t.Errorf("%s: got %v (SQLSTATE %q), want SQLSTATE in %v", a.sql, err, code, want)
		})
	}

	// Answered, but without a secret: the catalogs and statistics a role may read.
	leaksNothing := []struct{ name, sql string }{
		{"statistics of a table", "SELECT coalesce(string_agg(most_common_vals::text, ','), '') FROM pg_catalog.pg_stats WHERE tablename = 'users'"},
		{"other sessions' queries", "SELECT coalesce(string_agg(query, ','), '') FROM pg_catalog.pg_stat_activity WHERE usename <> current_user"},
		{"database_to_xml skips what it may not read", "SELECT database_to_xml(true, false, '')::text"},
	}
	for _, a := range leaksNothing {
		t.Run(a.name, func(t *testing.T) {
			var out string
			if err := rt.QueryRow(ctx, a.sql).Scan(&out); err != nil {
				t.Fatalf("%s: %v", a.sql, err)
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s leaked %q: %.200s", a.sql, s, out)
				}
			}
		})
	}
	// The admin does see them: the reads above could have leaked.
	var adminView string
	if err := pr.admin.QueryRow(ctx, `SELECT string_agg(secret, ',') || (SELECT convert_from(lo_get(4242), 'UTF8')) FROM public.users`).Scan(&adminView); err != nil ||
		!strings.Contains(adminView, "secret-1") || !strings.Contains(adminView, "lo-secret") {
		t.Fatalf("the admin cannot read the secrets (%v): %q", err, adminView)
	}
	pr.t = t
	pr.requireGreen("after the refused attacks")
}

// TestDirectDSNConnectionLimit: a leaked DSN opens connections until Postgres refuses the one
// past the role's connection limit (53300), so it cannot exhaust max_connections.
func TestDirectDSNConnectionLimit(t *testing.T) {
	pr := directProject(t)
	ctx := context.Background()
	var conns []*pgx.Conn
	defer func() {
		for _, c := range conns {
			c.Close(ctx)
		}
	}()
	var refusal error
	for i := 0; i < directLimit+3; i++ {
		c, err := pgx.Connect(ctx, pr.db.URL(pr.runtimeRole(), runtimePassword))
		if err != nil {
			refusal = err
			break
		}
		conns = append(conns, c)
	}
	if len(conns) != directLimit || sqlstate(refusal) != "53300" {
		t.Fatalf("opened %d runtime connections, then %v; want %d, then SQLSTATE 53300 too_many_connections", len(conns), refusal, directLimit)
	}
	// The limit binds the runtime role only: the admin still connects.
	admin, err := pgx.Connect(ctx, pr.db.AdminURL)
	if err != nil {
		t.Fatalf("admin cannot connect while the runtime role is at its limit: %v", err)
	}
	admin.Close(ctx)
}

// TestDirectDSNReported: what Postgres lets the runtime role do to itself or hold, which
// doctor must report (exit 1, naming it) and whose printed fix must end it.
func TestDirectDSNReported(t *testing.T) {
	pr := directProject(t)
	ctx := context.Background()
	db := pgx.Identifier{pr.db.Name}.Sanitize()

	selfChanges := []struct{ name, sql, check, object string }{
		{"lift its own statement timeout", "ALTER ROLE CURRENT_USER SET statement_timeout = 0", "session defaults", "setting statement_timeout"},
		{"lift its own idle-in-transaction timeout", "ALTER ROLE CURRENT_USER SET idle_in_transaction_session_timeout = 0", "session defaults", "setting idle_in_transaction_session_timeout"},
		{"make its sessions read-write in this database", "ALTER ROLE CURRENT_USER IN DATABASE " + db + " SET default_transaction_read_only = off", "session defaults", "setting default_transaction_read_only"},
		{"hand its future tables to PUBLIC", "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC", "default privileges", "default privileges of role " + pr.runtimeRole()},
	}
	for _, a := range selfChanges {
		t.Run(a.name, func(t *testing.T) {
			pr.t = t
			rt := pr.attacker(ctx)
			if _, err := rt.Exec(ctx, a.sql); err != nil {
				t.Fatalf("%s was refused (%v): then it belongs in TestDirectDSNRefused", a.sql, err)
			}
			pr.expectReported(a.check, a.object)
		})
	}

	t.Run("hold a refresh lock", func(t *testing.T) {
		pr.t = t
		rt := pr.attacker(ctx)
		if _, err := rt.Exec(ctx, `SELECT pg_advisory_lock(hashtext('agentmv:' || 'agent_mv'), hashtext('user_count'))`); err != nil {
			t.Fatal(err)
		}
		// It works: refreshes now answer busy.
		if res := pr.run("refresh", "user_count", "--json"); !strings.Contains(res.stdout, `"busy"`) {
			t.Fatalf("refresh while the lock is held (exit %d): %s%s", res.code, res.stdout, res.stderr)
		}
		pr.expectReported("runtime sessions", fmt.Sprintf("session %d of %s", rt.PgConn().PID(), pr.runtimeRole()))
		pr.mustRun("refresh", "user_count")
	})

	t.Run("keep a transaction open with the timeout off", func(t *testing.T) {
		pr.t = t
		rt := pr.attacker(ctx)
		for _, s := range []string{"SET idle_in_transaction_session_timeout = 0", "BEGIN", "SELECT * FROM agent_mv.user_count"} {
			if _, err := rt.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		object := fmt.Sprintf("session %d of %s", rt.PgConn().PID(), pr.runtimeRole())
		// Reported once it has been idle longer than the role's timeout (1 s) plus doctor's grace.
		deadline := time.Now().Add(90 * time.Second)
		for {
			code, rep := pr.doctorJSON()
			if code == 1 && named(rep, "runtime sessions", object) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("doctor never reported the idle transaction of %s:\n%s", object, failing(rep))
			}
			time.Sleep(500 * time.Millisecond)
		}
		pr.expectReported("runtime sessions", object)
	})

	t.Run("change its own password", func(t *testing.T) {
		pr.t = t
		rt := pr.attacker(ctx)
		if _, err := rt.Exec(ctx, "ALTER ROLE CURRENT_USER PASSWORD 'locked-out'"); err != nil {
			t.Fatal(err)
		}
		res := pr.run("doctor")
		if res.code != 1 || !strings.Contains(res.stdout, "✗ runtime role cannot log in") {
			t.Fatalf("doctor after the password change (exit %d):\n%s", res.code, res.stdout)
		}
		pr.mustRun("apply", "--yes", "--rotate-password")
		pr.requireGreen("after apply --rotate-password")
	})
}

// expectReported runs doctor: it must exit 1 with a failing check naming object; then every
// printed fix is run as the admin, and doctor must be green.
func (pr *project) expectReported(check, object string) {
	pr.t.Helper()
	code, rep := pr.doctorJSON()
	if code != 1 || !named(rep, check, object) {
		pr.t.Fatalf("doctor (exit %d) has no failing %q check naming %q:\n%s", code, check, object, failing(rep))
	}
	fixAll(pr.t, pr, rep)
	pr.requireGreen("after its fixes for " + object)
}

func sqlstate(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
