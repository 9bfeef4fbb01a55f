package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/pglocal"
	"github.com/agentmv/agentmv/internal/testutil"
)

// agentMV returns the agent-mv binary, built once per test binary.
func agentMV(t *testing.T) string {
	t.Helper()
	return testutil.Command(t, "agent-mv")
}

// TestDemoEndToEnd runs the README's first command, `agent-mv demo`, as a subprocess on a fresh
// throwaway Postgres, and checks that every step ran and the boundary held.
func TestDemoEndToEnd(t *testing.T) {
	t.Parallel()
	bin := agentMV(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "demo", "--dir", dir)
	cmd.Env = withoutDatabaseEnv(os.Environ())
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("agent-mv demo: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"▶ starting a throwaway PostgreSQL",
		"Plan: 3 to create, 0 to rebuild, 0 to reindex, 0 to update, 0 to drop, 0 unchanged.",
		"✓ applied 3 view(s)",
		"✓ access boundary verified",
		"✓ refreshed customer_rollup (concurrent",
		"✓ refreshed daily_revenue (concurrent",
		"✓ refreshed top_customers_30d (blocking",
		"refresh-all: 3 succeeded, 0 failed, 0 skipped",
		"carol@example.com",
		"ERROR: permission denied for table users",
		"✓ blocked by Postgres, as expected",
		`"agent-materialize-runtime"`,
		"Dashboard: file://" + filepath.Join(dir, "dashboard.html"),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(text, "✗") {
		t.Errorf("demo output reports a failure:\n%s", text)
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
	html, err := os.ReadFile(filepath.Join(dir, "dashboard.html"))
	if err != nil || !strings.Contains(string(html), "top_customers_30d") {
		t.Errorf("dashboard missing or incomplete: %v", err)
	}
}

func withoutDatabaseEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "AGENT_MV_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// TestDemoTwiceOnExistingDatabase runs the demo twice against DATABASE_URL: the second run
// finds the data loaded and the views applied, and succeeds (apply is a no-op).
func TestDemoTwiceOnExistingDatabase(t *testing.T) {
	t.Parallel()
	bin := agentMV(t)
	c := startCluster(t)
	for i, want := range []string{"loaded in", "already loaded"} {
		cmd := exec.Command(bin, "demo", "--dir", t.TempDir())
		cmd.Env = append(withoutDatabaseEnv(os.Environ()), "DATABASE_URL="+c.URL("postgres"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
		if !strings.Contains(string(out), want) || !strings.Contains(string(out), "✓ blocked by Postgres, as expected") {
			t.Errorf("run %d output lacks %q:\n%s", i+1, want, out)
		}
		if i == 1 && !strings.Contains(string(out), "0 to create, 0 to rebuild, 0 to reindex, 0 to update, 0 to drop, 3 unchanged") {
			t.Errorf("second run is not a no-op apply:\n%s", out)
		}
	}
}

// clusterState is what another project owns on a server: every database but the demo's, its
// relations (by OID), ACLs, agentmv registry and history, and every role and membership that
// is not the demo's. Two equal states mean the demo touched none of it.
func clusterState(t *testing.T, c *pglocal.Cluster, dbs ...string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	dump := func(dsn, q string) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	dump(c.URL("postgres"), `SELECT datname, datdba, datacl::text, shobj_description(oid, 'pg_database')
  FROM pg_database WHERE datname <> 'agentmv_demo' ORDER BY datname`)
	dump(c.URL("postgres"), `SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
       rolpassword, rolvaliduntil::text, shobj_description(oid, 'pg_authid')
  FROM pg_authid WHERE rolname NOT LIKE 'agentmv\_demo\_%' ORDER BY rolname`)
	dump(c.URL("postgres"), `SELECT r.rolname, m.rolname, a.admin_option
  FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
 WHERE r.rolname NOT LIKE 'agentmv\_demo\_%' AND m.rolname NOT LIKE 'agentmv\_demo\_%'
 ORDER BY 1, 2`)
	for _, db := range dbs {
		fmt.Fprintf(&b, "-- database %s\n", db)
		dump(c.URL(db), `SELECT n.nspname, n.nspacl::text, c.oid::int8, c.relname, c.relkind::text, c.relacl::text, c.relowner::int8
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
 ORDER BY 1, 4`)
		dump(c.URL(db), `SELECT p.oid::int8, p.proname, md5(p.prosrc), p.proacl::text FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'agent_mv' ORDER BY 2`)
		dump(c.URL(db), `SELECT name, sql_hash, index_spec::text, applied_at::text FROM agent_mv.views ORDER BY name`)
		dump(c.URL(db), `SELECT id, view_name, status, started_at::text FROM agent_mv.refresh_history ORDER BY id`)
		dump(c.URL(db), `SELECT * FROM public.leads ORDER BY id`)
		dump(c.URL(db), `SELECT * FROM agent_mv.leads_by_source ORDER BY source`)
	}
	return b.String()
}

// TestDemoLeavesOtherProjectsAlone points the demo at a server where another project applied
// its own view (leads_by_source) with agentmv's default schema and role names. The demo must
// work in a database and under role names of its own and leave everything else exactly as it
// was; without the privilege to create its database it must refuse and change nothing.
func TestDemoLeavesOtherProjectsAlone(t *testing.T) {
	t.Parallel()
	bin := agentMV(t)
	ctx := context.Background()
	c := startCluster(t)
	admin, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	mustExec := func(conn *pgx.Conn, sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	mustExec(admin, "CREATE DATABASE crm")
	crm, err := pgx.Connect(ctx, c.URL("crm"))
	if err != nil {
		t.Fatal(err)
	}
	defer crm.Close(ctx)
	mustExec(crm, `CREATE TABLE leads (id serial PRIMARY KEY, source text NOT NULL, created_at timestamptz NOT NULL)`)
	mustExec(crm, `INSERT INTO leads (source, created_at) SELECT (ARRAY['ads','referral','web'])[1 + i % 3], '2026-01-01'::timestamptz - i * interval '1 hour' FROM generate_series(1, 50) i`)

	// The other project: its own directory, materialize.yaml and a runtime password.
	proj := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proj, "materialize"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "materialize.yaml"), []byte("version: 1\ntarget_schema: agent_mv\nviews:\n  - name: leads_by_source\n    sql_file: materialize/leads_by_source.sql\n    description: leads per source\n    indexes:\n      - columns: [source]\n        unique: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "materialize/leads_by_source.sql"), []byte("SELECT source, count(*) AS leads FROM public.leads GROUP BY source\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const crmPassword = "crm-runtime-pw"
	crmRuntime := c.URLFor(agentmv.DefaultRuntimeRole, crmPassword, "crm")
	p, err := agentmv.Open(ctx, agentmv.Options{ConfigPath: filepath.Join(proj, "materialize.yaml"), DotenvPath: "-",
		Environ:   func(string) (string, bool) { return "", false },
		Overrides: agentmv.Settings{DatabaseURL: c.URL("crm"), RuntimeURL: crmRuntime, RuntimePassword: crmPassword}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(ctx, agentmv.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	// A database of that name that the demo did not create is not the demo's either.
	mustExec(admin, "CREATE DATABASE agentmv_demo_lookalike")

	before := clusterState(t, c, "crm")

	runDemoCLI := func(databaseURL string) (string, error) {
		cmd := exec.Command(bin, "demo", "--dir", t.TempDir())
		cmd.Env = append(withoutDatabaseEnv(os.Environ()), "DATABASE_URL="+databaseURL)
		cmd.Dir = proj // run where the other project lives: its .env and YAML must not matter
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	checkUnchanged := func(step string) {
		t.Helper()
		if diff := cmp.Diff(before, clusterState(t, c, "crm")); diff != "" {
			t.Errorf("%s changed what the demo did not create (-before +after):\n%s", step, diff)
		}
		rt, err := pgx.Connect(ctx, crmRuntime)
		if err != nil {
			t.Fatalf("%s: the other project's runtime role can no longer log in: %v", step, err)
		}
		defer rt.Close(ctx)
		var n int64
		if err := rt.QueryRow(ctx, "SELECT sum(leads) FROM agent_mv.leads_by_source").Scan(&n); err != nil || n != 50 {
			t.Errorf("%s: the other project's view reads %d, %v; want 50", step, n, err)
		}
	}

	// 1. A role that may not create databases: the demo refuses and explains.
	mustExec(admin, "CREATE ROLE crm_app LOGIN PASSWORD 'crm-app-pw'")
	mustExec(admin, "GRANT ALL ON DATABASE crm TO crm_app")
	before = clusterState(t, c, "crm")
	out, err := runDemoCLI(c.URLFor("crm_app", "crm-app-pw", "crm"))
	if err == nil || !strings.Contains(out, "CREATEDB") || !strings.Contains(out, "agentmv_demo") {
		t.Errorf("demo as a role without CREATEDB: want a refusal naming CREATEDB and agentmv_demo, got %v:\n%s", err, out)
	}
	checkUnchanged("the refused demo")

	// 2. A superuser DSN on the other project's database: the demo runs in agentmv_demo.
	for i := range 2 {
		out, err = runDemoCLI(c.URL("crm"))
		if err != nil || !strings.Contains(out, "✓ blocked by Postgres, as expected") || !strings.Contains(out, "agentmv_demo") {
			t.Fatalf("demo run %d on a shared server: %v\n%s", i+1, err, out)
		}
		checkUnchanged(fmt.Sprintf("demo run %d", i+1))
	}
	if strings.Contains(out, "leads_by_source") {
		t.Errorf("the demo's plan mentions the other project's view:\n%s", out)
	}

	// 3. An agentmv_demo database the demo did not create: refuse, change nothing.
	mustExec(admin, "DROP DATABASE agentmv_demo WITH (FORCE)")
	mustExec(admin, "CREATE DATABASE agentmv_demo")
	out, err = runDemoCLI(c.URL("crm"))
	if err == nil || !strings.Contains(out, "was not created by agent-mv demo") {
		t.Errorf("demo with a foreign agentmv_demo database: want a refusal, got %v:\n%s", err, out)
	}
	checkUnchanged("the demo refused over a foreign agentmv_demo")
}
