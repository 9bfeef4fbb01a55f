package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// exposureSeed is a shop with a secret column, a sequence, a large object holding a secret,
// and postgres_fdw with a loopback server, so that every way to hand the runtime role data can
// be planted for real.
const exposureSeed = `
CREATE TABLE public.users (id serial PRIMARY KEY, email text NOT NULL, secret text NOT NULL);
INSERT INTO public.users (email, secret) SELECT 'u' || g || '@x', 'secret-' || g FROM generate_series(1, 20) g;
CREATE EXTENSION postgres_fdw;
CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'postgres');
CREATE FOREIGN TABLE public.remote_users (id int, secret text) SERVER loopback OPTIONS (table_name 'users');
`

const exposureYAML = `version: 1
target_schema: agent_mv
public_privileges:
  revoke_temporary: true
  revoke_create_on_public_schema: true
runtime_role:
  idle_in_transaction_session_timeout: 2s
views:
  - name: user_count
    sql_file: materialize/user_count.sql
    description: How many users there are.
`

// doctorReport is `agent-mv doctor --json`.
type doctorReport struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Name     string `json:"name"`
		Status   string `json:"status"`
		Message  string `json:"message"`
		Findings []struct {
			Object, Exposure, Fix string
		} `json:"findings"`
	} `json:"checks"`
}

func exposureProject(t *testing.T) *project {
	t.Helper()
	pr := newProject(t, exposureSeed)
	pr.write("materialize.yaml", exposureYAML)
	pr.write("materialize/user_count.sql", "SELECT count(*) AS users FROM public.users\n")
	pr.mustRun("apply", "--yes")
	return pr
}

// doctorJSON runs `agent-mv doctor --json` and returns its exit code and report.
func (pr *project) doctorJSON() (int, doctorReport) {
	pr.t.Helper()
	res := pr.run("doctor", "--json")
	var rep doctorReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		pr.t.Fatalf("doctor --json (exit %d) printed no report: %v\nstdout:\n%s\nstderr:\n%s", res.code, err, res.stdout, res.stderr)
	}
	return res.code, rep
}

// requireGreen runs doctor (text) and fails the test unless it exits 0.
func (pr *project) requireGreen(when string) {
	pr.t.Helper()
	if res := pr.run("doctor"); res.code != 0 {
		pr.t.Fatalf("doctor %s: exit %d\n%s%s", when, res.code, res.stdout, res.stderr)
	}
}

// TestExposureDoctor plants each class of exposure on a real database: doctor must exit 1
// and name the object in the expected check (in --json, and in the text report); running the
// fixes doctor prints must make it green again, which proves each fix is the exact statement
// that removes the exposure.
func TestExposureDoctor(t *testing.T) {
	pr := exposureProject(t)
	ctx := context.Background()
	version := pr.db.ServerVersionNum(t)
	rt := pgx.Identifier{pr.runtimeRole()}.Sanitize()
	db := pgx.Identifier{pr.db.Name}.Sanitize()
	other := pgx.Identifier{pr.db.Prefix + "_reader"}.Sanitize()
	// A large object with a secret in it, for the large-object cases.
	var lo uint32
	if err := pr.admin.QueryRow(ctx, `SELECT lo_from_bytea(0, 'lo-secret')`).Scan(&lo); err != nil {
		t.Fatal(err)
	}
	pr.requireGreen("after apply")

	cases := []struct {
		name   string
		since  int    // server_version_num the case needs
		plant  string // SQL run as the admin
		check  string // the failing check that must name it
		object string // part of the finding's object
	}{
		{"table readable by PUBLIC", 0, `GRANT SELECT ON public.users TO PUBLIC`, "access boundary", "relation public.users"},
		{"column readable by the role", 0, `GRANT SELECT (secret) ON public.users TO ` + rt, "access boundary", "relation public.users"},
		{"column writable by PUBLIC", 0, `GRANT UPDATE (email) ON public.users TO PUBLIC`, "access boundary writes", "relation public.users"},
		{"sequence usable by PUBLIC", 0, `GRANT USAGE ON SEQUENCE public.users_id_seq TO PUBLIC`, "access boundary writes", "relation public.users_id_seq"},
		{"sequence readable by the role", 0, `GRANT SELECT ON SEQUENCE public.users_id_seq TO ` + rt, "access boundary", "relation public.users_id_seq"},
		{"foreign table readable by PUBLIC", 0, `GRANT SELECT ON public.remote_users TO PUBLIC`, "access boundary", "relation public.remote_users"},
		{"table owned by the role", 0, `ALTER TABLE public.users OWNER TO ` + rt, "owned objects", "table public.users"},
		{"MAINTAIN for PUBLIC (17+)", 170000, `GRANT MAINTAIN ON public.users TO PUBLIC`, "access boundary writes", "relation public.users"},
		{"MAINTAIN on a managed view (17+)", 170000, `GRANT MAINTAIN ON agent_mv.user_count TO ` + rt, "access boundary writes", "relation agent_mv.user_count"},
		{"security definer function (EXECUTE through PUBLIC by default)", 0,
			`CREATE FUNCTION public.all_secrets() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER AS 'SELECT secret FROM public.users'`,
			"security definer", "function public.all_secrets()"},
		{"security definer procedure granted to the role", 0,
			`CREATE PROCEDURE public.wipe(n int) LANGUAGE sql SECURITY DEFINER AS 'DELETE FROM public.users WHERE id = n';
			 REVOKE EXECUTE ON PROCEDURE public.wipe(int) FROM PUBLIC; GRANT EXECUTE ON PROCEDURE public.wipe(int) TO ` + rt,
			"security definer", "procedure public.wipe(IN n integer)"},
		{"large object readable by PUBLIC", 0, fmt.Sprintf(`GRANT SELECT ON LARGE OBJECT %d TO PUBLIC`, lo), "large objects", fmt.Sprintf("large object %d", lo)},
		{"large object granted to the role", 0, fmt.Sprintf(`GRANT SELECT, UPDATE ON LARGE OBJECT %d TO %s`, lo, rt), "direct grants", fmt.Sprintf("large object %d", lo)},
		{"large object owned by the role", 0, fmt.Sprintf(`ALTER LARGE OBJECT %d OWNER TO %s`, lo, rt), "owned objects", fmt.Sprintf("large object %d", lo)},
		{"lo_compat_privileges on for the database", 0, `ALTER DATABASE ` + db + ` SET lo_compat_privileges = on`, "session defaults", "lo_compat_privileges"},
		{"foreign server usable by PUBLIC", 0, `GRANT USAGE ON FOREIGN SERVER loopback TO PUBLIC`, "foreign data", "foreign server loopback"},
		{"foreign server granted to the role", 0, `GRANT USAGE ON FOREIGN SERVER loopback TO ` + rt, "direct grants", "server loopback"},
		{"foreign-data wrapper usable by PUBLIC", 0, `GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO PUBLIC`, "foreign data", "foreign-data wrapper postgres_fdw"},
		{"user mapping for PUBLIC", 0, `CREATE USER MAPPING FOR PUBLIC SERVER loopback OPTIONS (user 'postgres', password 'x')`, "foreign data", "user mapping for PUBLIC on server loopback"},
		{"user mapping for the role", 0, `CREATE USER MAPPING FOR ` + rt + ` SERVER loopback OPTIONS (user 'postgres', password 'x')`, "owned objects", "user mapping " + pr.runtimeRole() + " on server loopback"},
		{"default privileges: future tables for PUBLIC", 0, `ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC`, "default privileges", "for new tables"},
		{"default privileges: future sequences for the role in a schema", 0, `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO ` + rt, "default privileges", "in schema public for new sequences"},
		{"default privileges: future functions for the role", 0, `ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO ` + rt, "default privileges", "for new functions"},
		{"default privileges: future large objects for PUBLIC (18+)", 180000, `ALTER DEFAULT PRIVILEGES GRANT SELECT ON LARGE OBJECTS TO PUBLIC`, "default privileges", "for new large objects"},
		{"member of pg_read_all_data", 0, `GRANT pg_read_all_data TO ` + rt, "runtime memberships", "role pg_read_all_data"},
		{"member of pg_read_server_files", 0, `GRANT pg_read_server_files TO ` + rt, "runtime memberships", "role pg_read_server_files"},
		{"member of pg_monitor", 0, `GRANT pg_monitor TO ` + rt, "runtime memberships", "role pg_monitor"},
		{"member of pg_signal_backend", 0, `GRANT pg_signal_backend TO ` + rt, "runtime memberships", "role pg_signal_backend"},
		{"member of pg_use_reserved_connections (16+)", 160000, `GRANT pg_use_reserved_connections TO ` + rt, "runtime memberships", "role pg_use_reserved_connections"},
		{"member of pg_maintain (17+)", 170000, `GRANT pg_maintain TO ` + rt, "runtime memberships", "role pg_maintain"},
		{"member of pg_signal_autovacuum_worker (18+)", 180000, `GRANT pg_signal_autovacuum_worker TO ` + rt, "runtime memberships", "role pg_signal_autovacuum_worker"},
		{"member of a role that reads a table", 0, `CREATE ROLE ` + other + `; GRANT SELECT ON public.users TO ` + other + `; GRANT ` + other + ` TO ` + rt,
			"runtime memberships", "role " + pr.db.Prefix + "_reader"},
		{"CREATEDB", 0, `ALTER ROLE ` + rt + ` CREATEDB`, "runtime attributes", "role " + pr.runtimeRole()},
		{"BYPASSRLS", 0, `ALTER ROLE ` + rt + ` BYPASSRLS`, "runtime attributes", "role " + pr.runtimeRole()},
		{"CREATE on schema public for PUBLIC", 0, `GRANT CREATE ON SCHEMA public TO PUBLIC`, "create", "schema public"},
		{"CREATE on the database for PUBLIC", 0, `GRANT CREATE ON DATABASE ` + db + ` TO PUBLIC`, "create", "database " + pr.db.Name},
		{"TEMPORARY granted to the role", 0, `GRANT TEMPORARY ON DATABASE ` + db + ` TO ` + rt, "temporary", "database " + pr.db.Name},
		{"TEMPORARY back on PUBLIC although the YAML revokes it", 0, `GRANT TEMPORARY ON DATABASE ` + db + ` TO PUBLIC`, "temporary", "database " + pr.db.Name},
		{"SET on a superuser parameter for PUBLIC (15+)", 150000, `GRANT SET ON PARAMETER lo_compat_privileges TO PUBLIC`, "parameter privileges", "parameter lo_compat_privileges"},
		{"SET on a superuser parameter for the role (15+)", 150000, `GRANT SET ON PARAMETER session_replication_role TO ` + rt, "direct grants", "parameter ACL session_replication_role"},
		{"no connection limit", 0, `ALTER ROLE ` + rt + ` CONNECTION LIMIT -1`, "connection limit", "role " + pr.runtimeRole()},
		{"no statement timeout (the role may set its own defaults)", 0, `ALTER ROLE ` + rt + ` SET statement_timeout = 0`, "session defaults", "setting statement_timeout"},
		{"read-write default for this database", 0, `ALTER ROLE ` + rt + ` IN DATABASE ` + db + ` SET default_transaction_read_only = off`, "session defaults", "setting default_transaction_read_only"},
		{"no idle-in-transaction timeout", 0, `ALTER ROLE ` + rt + ` RESET idle_in_transaction_session_timeout`, "session defaults", "setting idle_in_transaction_session_timeout"},
	}
	// The green checks run in process (the same boundary.Doctor the CLI runs) to keep the
	// table fast; every planted exposure goes through the CLI for its exit code.
	p := pr.open()
	defer func(t0 *testing.T) { pr.t = t0 }(pr.t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if version < tc.since {
				t.Logf("PostgreSQL %d has no such thing (needs %d)", version, tc.since)
				return
			}
			pr.t = t
			pr.db.Exec(t, tc.plant)
			code, rep := pr.doctorJSON()
			if code != 1 || rep.OK {
				t.Fatalf("doctor exit %d (ok %v) after %q, want 1", code, rep.OK, tc.plant)
			}
			if !named(rep, tc.check, tc.object) {
				t.Fatalf("no failing %q check names %q after %q:\n%s", tc.check, tc.object, tc.plant, failing(rep))
			}
			if i == 0 { // the text report lists the same finding with its fix
				text := pr.run("doctor")
				if text.code != 1 || !strings.Contains(text.stdout, "- "+tc.object+": ") || !strings.Contains(text.stdout, "fix: REVOKE SELECT ON TABLE public.users FROM PUBLIC") {
					t.Errorf("text doctor (exit %d) does not name %q with its fix:\n%s", text.code, tc.object, text.stdout)
				}
			}
			fixAll(t, pr, rep)
			if r, err := p.Doctor(ctx); err != nil || !r.OK() {
				t.Fatalf("doctor after running its fixes for %s: %v\n%s", tc.name, err, r)
			}
		})
	}
}

// named reports whether a failing check called check has a finding whose object contains obj.
func named(rep doctorReport, check, obj string) bool {
	for _, c := range rep.Checks {
		if c.Name != check || c.Status != "fail" {
			continue
		}
		for _, f := range c.Findings {
			if strings.Contains(f.Object, obj) {
				return true
			}
		}
	}
	return false
}

func failing(rep doctorReport) string {
	var b strings.Builder
	for _, c := range rep.Checks {
		if c.Status == "ok" {
			continue
		}
		fmt.Fprintf(&b, "%s [%s]: %s\n", c.Status, c.Name, c.Message)
		for _, f := range c.Findings {
			fmt.Fprintf(&b, "  - %s: %s\n    fix: %s\n", f.Object, f.Exposure, f.Fix)
		}
	}
	return b.String()
}

// fixAll runs, as the admin, the fix of every finding of every failing check.
func fixAll(t *testing.T, pr *project, rep doctorReport) {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Status != "fail" {
			continue
		}
		for _, f := range c.Findings {
			if f.Fix == "" || !looksLikeSQL(f.Fix) {
				t.Fatalf("finding %q of %q has no SQL fix: %q", f.Object, c.Name, f.Fix)
			}
			pr.db.Exec(t, f.Fix)
		}
	}
}

func looksLikeSQL(s string) bool {
	for _, p := range []string{"REVOKE ", "ALTER ", "DROP ", "SELECT "} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestExposureApplyReports: apply runs the same probes after it commits and prints what the
// runtime role can still reach (it changes no other role's rights to remove it), and an
// allowlisted SECURITY DEFINER function is accepted by both.
func TestExposureApplyReports(t *testing.T) {
	pr := exposureProject(t)
	pr.db.Exec(t, `CREATE FUNCTION public.current_tenant() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*)::int FROM public.users'`)
	res := pr.mustRun("apply", "--yes")
	for _, want := range []string{"The runtime role can still reach", "function public.current_tenant()", "fix: REVOKE EXECUTE ON FUNCTION public.current_tenant() FROM PUBLIC"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("apply output lacks %q:\n%s", want, res.stdout)
		}
	}
	var js struct {
		Exposures []struct {
			Name     string
			Findings []struct{ Object string }
		}
	}
	out := pr.mustRun("apply", "--yes", "--json")
	if err := json.Unmarshal([]byte(out.stdout), &js); err != nil {
		t.Fatalf("apply --json: %v\n%s", err, out.stdout)
	}
	if len(js.Exposures) != 1 || js.Exposures[0].Name != "security definer" || len(js.Exposures[0].Findings) != 1 ||
		js.Exposures[0].Findings[0].Object != "function public.current_tenant()" {
		t.Errorf("apply --json exposures = %+v", js.Exposures)
	}
	if code, rep := pr.doctorJSON(); code != 1 || !named(rep, "security definer", "function public.current_tenant()") {
		t.Fatalf("doctor (exit %d) does not name the function:\n%s", code, failing(rep))
	}
	// Deliberate: allowlisted in materialize.yaml, by any spelling Postgres resolves.
	pr.write("materialize.yaml", strings.Replace(exposureYAML, "runtime_role:\n", "runtime_role:\n  allow_security_definer:\n    - public.current_tenant()\n", 1))
	pr.requireGreen("with the function allowlisted")
	if res := pr.mustRun("apply", "--yes"); strings.Contains(res.stdout, "still reach") {
		t.Errorf("apply still reports the allowlisted function:\n%s", res.stdout)
	}
	// An entry that names no function is a warning, not a pass for anything else.
	pr.write("materialize.yaml", strings.Replace(exposureYAML, "runtime_role:\n", "runtime_role:\n  allow_security_definer:\n    - public.no_such_function(integer)\n    - public.current_tenant(no_such_type)\n", 1))
	code, rep := pr.doctorJSON()
	if code != 1 || !named(rep, "security definer", "function public.current_tenant()") {
		t.Fatalf("doctor (exit %d) with a wrong allowlist entry:\n%s", code, failing(rep))
	}
	if !strings.Contains(failing(rep), "warn [security definer allowlist]: runtime_role.allow_security_definer names no function for: public.no_such_function(integer)") {
		t.Errorf("no warning for the unknown allowlist entry:\n%s", failing(rep))
	}
	// An unknown type is an error before PostgreSQL 16 and NULL from 16 on: a warning on both.
	if !strings.Contains(failing(rep), "; public.current_tenant(no_such_type) (") {
		t.Errorf("no warning for the allowlist entry with an unknown type:\n%s", failing(rep))
	}
}

// TestTempChoice: without public_privileges.revoke_temporary apply leaves TEMPORARY with
// PUBLIC (another application's role keeps its temp tables) and doctor warns (⚠, exit 0) saying
// what to run; with it, apply revokes it, the runtime role is refused, and the owner role can
// still refresh CONCURRENTLY (it holds TEMPORARY by name).
func TestTempChoice(t *testing.T) {
	pr := newProject(t, `CREATE TABLE public.users (id int PRIMARY KEY, secret text NOT NULL);
INSERT INTO public.users SELECT g, 'secret-' || g FROM generate_series(1, 20) g;`)
	app := pr.db.CreateLoginRole(t, pr.db.Prefix+"_app", "app-pw")
	base := "version: 1\ntarget_schema: agent_mv\npublic_privileges:\n  revoke_create_on_public_schema: true\n" +
		"views:\n  - name: user_ids\n    sql_file: materialize/user_ids.sql\n    description: The ids of the users.\n" +
		"    indexes:\n      - columns: [id]\n        unique: true\n"
	pr.write("materialize.yaml", base)
	pr.write("materialize/user_ids.sql", "SELECT id FROM public.users\n")
	pr.mustRun("apply", "--yes")
	ctx := context.Background()
	createTemp := func(dsn string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, "CREATE TEMP TABLE scratch (id int)")
		return err
	}
	runtimeURL := pr.db.URL(pr.runtimeRole(), runtimePassword)
	if err := createTemp(app); err != nil {
		t.Fatalf("apply without the YAML key took temp tables from another role: %v", err)
	}
	if err := createTemp(runtimeURL); err != nil {
		t.Fatalf("the runtime role cannot create a temp table although PUBLIC may: %v", err)
	}
	res := pr.run("doctor")
	if res.code != 0 {
		t.Fatalf("doctor exit %d with only TEMPORARY open:\n%s", res.code, res.stdout)
	}
	for _, want := range []string{
		"⚠ runtime role " + pr.runtimeRole() + " can create temporary tables in database " + pr.db.Name,
		"public_privileges: {revoke_temporary: true}",
		"fix: REVOKE TEMPORARY ON DATABASE " + pgx.Identifier{pr.db.Name}.Sanitize() + " FROM PUBLIC",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, res.stdout)
		}
	}

	pr.write("materialize.yaml", strings.Replace(base, "public_privileges:\n", "public_privileges:\n  revoke_temporary: true\n", 1))
	out := pr.mustRun("apply", "--yes")
	if !strings.Contains(out.stdout, "revoked TEMPORARY on database "+pr.db.Name+" from PUBLIC") {
		t.Errorf("apply did not say it revoked TEMPORARY:\n%s", out.stdout)
	}
	if err := createTemp(runtimeURL); sqlstate(err) != "42501" {
		t.Errorf("runtime role creating a temp table after the revoke: %v, want SQLSTATE 42501", err)
	}
	if err := createTemp(app); sqlstate(err) != "42501" {
		t.Errorf("other role after the revoke: %v, want SQLSTATE 42501 (it now needs TEMPORARY by name)", err)
	}
	if r := pr.mustRun("refresh", "user_ids", "--json"); !strings.Contains(r.stdout, `"mode": "concurrent"`) {
		t.Errorf("refresh after the revoke is not concurrent (the owner needs TEMPORARY):\n%s", r.stdout)
	}
	res = pr.run("doctor")
	if res.code != 0 || !strings.Contains(res.stdout, "✓ runtime role "+pr.runtimeRole()+" cannot create temporary tables") {
		t.Errorf("doctor after the revoke (exit %d):\n%s", res.code, res.stdout)
	}
}
