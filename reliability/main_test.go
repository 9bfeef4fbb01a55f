package reliability_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/internal/testutil"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// agentMV returns cmd/agent-mv, built once per test binary.
func agentMV(t *testing.T) string {
	t.Helper()
	return testutil.Command(t, "agent-mv")
}

const runtimePassword = "rt-secret-pw"

// project is a directory with materialize.yaml and SQL files bound to a fresh database with
// roles unique to the test.
type project struct {
	t     *testing.T
	db    *pgtest.DB
	dir   string
	admin *pgxpool.Pool
	// extraEnv is added to the environment of every CLI subprocess (e.g. agents' passwords).
	extraEnv []string
}

func newProject(t *testing.T, seed string) *project {
	t.Helper()
	db := pgtest.NewDB(t)
	if seed != "" {
		db.Exec(t, seed)
	}
	pr := &project{t: t, db: db, dir: t.TempDir(), admin: db.Pool(t)}
	if err := os.MkdirAll(filepath.Join(pr.dir, "materialize"), 0o755); err != nil {
		t.Fatal(err)
	}
	return pr
}

func (pr *project) runtimeRole() string { return pr.db.Prefix + "_runtime" }
func (pr *project) ownerRole() string   { return pr.db.Prefix + "_owner" }
func (pr *project) yamlPath() string    { return filepath.Join(pr.dir, "materialize.yaml") }

// env is the environment of a CLI subprocess bound to this project: the settings, and
// nothing inherited that could point it elsewhere.
func (pr *project) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || strings.HasPrefix(k, "AGENT_MV_") || strings.HasPrefix(k, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env,
		"DATABASE_URL="+pr.db.AdminURL,
		"AGENT_MV_RUNTIME_URL="+pr.db.URL(pr.runtimeRole(), runtimePassword),
		"AGENT_MV_RUNTIME_PASSWORD="+runtimePassword,
		"AGENT_MV_RUNTIME_ROLE="+pr.runtimeRole(),
		"AGENT_MV_OWNER_ROLE="+pr.ownerRole(),
	), pr.extraEnv...)
}

// command returns an agent-mv subprocess for this project (not started).
func (pr *project) command(ctx context.Context, args ...string) *exec.Cmd {
	pr.t.Helper()
	cmd := exec.CommandContext(ctx, agentMV(pr.t), append([]string{"--config", pr.yamlPath()}, args...)...)
	cmd.Dir = pr.dir
	cmd.Env = pr.env()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// cliResult is what a finished CLI run printed and returned.
type cliResult struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// run runs agent-mv to completion (at most 2 minutes, not counting the one-time build of the
// binary, which can take longer than that on a loaded machine).
func (pr *project) run(args ...string) cliResult {
	pr.t.Helper()
	agentMV(pr.t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := pr.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			pr.t.Fatalf("agent-mv %v: %v", args, err)
		}
		res.code = ee.ExitCode()
	}
	return res
}

// mustRun runs agent-mv and fails the test unless it exits 0.
func (pr *project) mustRun(args ...string) cliResult {
	pr.t.Helper()
	res := pr.run(args...)
	if res.code != 0 {
		pr.t.Fatalf("agent-mv %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, res.code, res.stdout, res.stderr)
	}
	return res
}

func (pr *project) write(name, content string) {
	pr.t.Helper()
	if err := os.WriteFile(filepath.Join(pr.dir, name), []byte(content), 0o644); err != nil {
		pr.t.Fatal(err)
	}
}

func (pr *project) read(name string) []byte {
	pr.t.Helper()
	b, err := os.ReadFile(filepath.Join(pr.dir, name))
	if err != nil {
		pr.t.Fatal(err)
	}
	return b
}

// snapshotQueries capture everything apply manages, without OIDs or timestamps (a rebuild
// changes those), so that two snapshots are equal exactly when the managed state is the same.
var snapshotQueries = []struct{ name, sql string }{
	{"registry", `SELECT coalesce(string_agg(format('%s|%s|%s|%s|%s|%s', name, description, sql_hash, index_spec::text,
		min_refresh_interval, max_staleness), E'\n' ORDER BY name), '') FROM agent_mv.views`},
	{"matviews", `SELECT coalesce(string_agg(format('%s|%s|%s|%s', matviewname, matviewowner, md5(definition), ispopulated),
		E'\n' ORDER BY matviewname), '') FROM pg_catalog.pg_matviews WHERE schemaname = 'agent_mv'`},
	{"indexes", `SELECT coalesce(string_agg(format('%s|%s|%s', tablename, indexname, indexdef), E'\n' ORDER BY indexname), '')
		FROM pg_catalog.pg_indexes i JOIN pg_catalog.pg_matviews m ON m.schemaname = i.schemaname AND m.matviewname = i.tablename
		WHERE i.schemaname = 'agent_mv'`},
	{"lineage", `SELECT coalesce(string_agg(format('%s|%s|%s', view_name, source_kind, source_name), E'\n'
		ORDER BY view_name, source_kind, source_name), '') FROM agent_mv.lineage`},
	{"column_lineage", `SELECT coalesce(string_agg(format('%s|%s|%s|%s|%s', view_name, view_column, source_schema, source_relation, source_column), E'\n'
		ORDER BY view_name, view_column, source_schema, source_relation, source_column), '') FROM agent_mv.column_lineage`},
	{"grants", `SELECT coalesce(string_agg(format('%s|%s', c.relname, c.relacl::text), E'\n' ORDER BY c.relname), '')
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'agent_mv' AND c.relkind IN ('m', 'r', 'v')`},
	{"relations", `SELECT coalesce(string_agg(format('%s|%s', c.relname, c.relkind), E'\n' ORDER BY c.relname), '')
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'agent_mv'`},
}

// snapshot returns the managed state of the database (empty string when agent_mv does not
// exist yet).
func (pr *project) snapshot() string {
	pr.t.Helper()
	ctx := context.Background()
	var exists bool
	if err := pr.admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'agent_mv')`).Scan(&exists); err != nil {
		pr.t.Fatal(err)
	}
	if !exists {
		return ""
	}
	var b strings.Builder
	for _, q := range snapshotQueries {
		var s string
		if err := pr.admin.QueryRow(ctx, q.sql).Scan(&s); err != nil {
			pr.t.Fatalf("snapshot %s: %v", q.name, err)
		}
		fmt.Fprintf(&b, "## %s\n%s\n", q.name, s)
	}
	return b.String()
}

// settings are the project's settings for the library (the CLI gets the same through env).
func (pr *project) settings() agentmv.Settings {
	return agentmv.Settings{
		DatabaseURL:     pr.db.AdminURL,
		RuntimeURL:      pr.db.URL(pr.runtimeRole(), runtimePassword),
		RuntimePassword: runtimePassword,
		RuntimeRole:     pr.runtimeRole(),
		OwnerRole:       pr.ownerRole(),
	}
}

// open opens the project in-process; it is closed at the end of the test.
func (pr *project) open() *agentmv.Project {
	pr.t.Helper()
	p, err := agentmv.Open(context.Background(), agentmv.Options{
		ConfigPath: pr.yamlPath(),
		DotenvPath: "-",
		Overrides:  pr.settings(),
		Environ:    func(string) (string, bool) { return "", false },
	})
	if err != nil {
		pr.t.Fatalf("open: %v", err)
	}
	pr.t.Cleanup(p.Close)
	return p
}
