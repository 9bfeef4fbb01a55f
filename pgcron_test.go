package agentmv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/pglocal"
	"github.com/agentmv/agentmv/internal/testutil"
)

// pgCronBinDir returns the server binaries of an installed PostgreSQL that has pg_cron
// (Debian's postgresql-<major>-cron puts pg_cron.so next to them); without one the test skips,
// or fails under CI=true, where .ci/run installs it.
func pgCronBinDir(t *testing.T) string {
	t.Helper()
	libs, _ := filepath.Glob("/usr/lib/postgresql/*/lib/pg_cron.so")
	for _, lib := range libs {
		bin := filepath.Join(filepath.Dir(filepath.Dir(lib)), "bin")
		if _, err := os.Stat(filepath.Join(bin, "postgres")); err == nil {
			return bin
		}
	}
	testutil.SkipOrFail(t, "no PostgreSQL with pg_cron installed (apt-get install postgresql-<major>-cron; .ci/run does)")
	return ""
}

const cronYAML = `version: 1
target_schema: agent_mv
scheduler: pg_cron
views:
  - name: a
    sql_file: materialize/a.sql
    description: rows of t
    refresh_every: %A%
  - name: b
    sql_file: materialize/b.sql
    description: total of a%B%
`

// TestPgCronJobs: with `scheduler: pg_cron`, apply keeps one pg_cron job per scheduled view in
// its transaction (created, rescheduled, removed as the YAML changes; an interval this pg_cron
// cannot express fails the whole apply), doctor checks them, drop and a switch back to
// `scheduler: serve` remove them, and a job really refreshes its view through refresh_view (a
// history row) on a cluster started with pg_cron preloaded.
func TestPgCronJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := pglocal.Start(ctx, pglocal.Options{BinDir: pgCronBinDir(t), Settings: map[string]string{
		"shared_preload_libraries": "pg_cron", "cron.database_name": "postgres", "cron.use_background_workers": "on",
		"max_worker_processes": "16"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	admin, err := pgxpool.New(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if _, err := admin.Exec(ctx, `CREATE EXTENSION pg_cron;
		CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t SELECT i, i FROM generate_series(1, 10) i`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "materialize"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("materialize/a.sql", "SELECT id, v FROM public.t\n")
	write("materialize/b.sql", "SELECT sum(v) AS total FROM agent_mv.a\n")
	settings := agentmv.Settings{DatabaseURL: c.URL("postgres"), RuntimeURL: c.URLFor("cron_runtime", "Cron-rt-pw1", "postgres"),
		RuntimePassword: "Cron-rt-pw1", RuntimeRole: "cron_runtime", OwnerRole: "cron_owner"}
	open := func(aEvery, bExtra string) *agentmv.Project {
		t.Helper()
		write("materialize.yaml", strings.NewReplacer("%A%", aEvery, "%B%", bExtra).Replace(cronYAML))
		p, err := agentmv.Open(ctx, agentmv.Options{ConfigPath: filepath.Join(dir, "materialize.yaml"), DotenvPath: "-",
			Overrides: settings, Environ: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	jobs := func() map[string]string { // name -> schedule | command
		t.Helper()
		rows, err := admin.Query(ctx, "SELECT jobname::text, schedule || ' | ' || command FROM cron.job ORDER BY jobname")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		var k, v string
		if _, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error { out[k] = v; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	apply := func(p *agentmv.Project) *agentmv.ApplyResult {
		t.Helper()
		res, err := p.Apply(ctx, agentmv.ApplyOptions{})
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		return res
	}
	const cmdA = `SELECT "agent_mv"."refresh_view"('a')`
	const cmdB = `SELECT "agent_mv"."refresh_view"('b')`
	check := func(step string, want map[string]string) {
		t.Helper()
		got := jobs()
		if len(got) != len(want) {
			t.Errorf("%s: jobs %v, want %v", step, got, want)
			return
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: job %s = %q, want %q (all: %v)", step, k, got[k], v, got)
			}
		}
	}

	// Created with the views.
	res := apply(open("1m", ""))
	check("first apply", map[string]string{"agentmv:agent_mv.a": "* * * * * | " + cmdA})
	if len(res.CronJobs) != 1 || !strings.HasPrefix(res.CronJobs[0], "created pg_cron job agentmv:agent_mv.a") {
		t.Errorf("apply reported job changes %q", res.CronJobs)
	}
	applied := time.Now()
	rep, err := open("1m", "").Doctor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || !strings.Contains(rep.String(), "✓ 1 pg_cron job(s) refresh the scheduled views") {
		t.Errorf("doctor does not check the job:\n%s", rep)
	}

	// The job really refreshes a (pg_cron 1.4 runs at minute boundaries: up to a minute).
	testutil.WaitFor(t, 150*time.Second, "a refresh of a by its pg_cron job (a history row)", func() (bool, error) {
		var n int
		err := admin.QueryRow(ctx, `SELECT count(*) FROM agent_mv.refresh_history
			WHERE view_name = 'a' AND status = 'success' AND mode_reason <> $1 AND started_at > $2`,
			boundary.ModeReasonCreated, applied.Add(-time.Second)).Scan(&n)
		if err == nil && n == 0 {
			var runs string
			if err := admin.QueryRow(ctx, `SELECT coalesce(string_agg(status || ': ' || coalesce(return_message, ''), '; '), 'none')
				FROM cron.job_run_details`).Scan(&runs); err == nil {
				return false, fmt.Errorf("no refresh yet; pg_cron job runs: %s", runs)
			}
		}
		return n > 0, err
	})

	// Rescheduled and added in an update; plan shows it as an update.
	p := open("2m", "\n    refresh_every: 5m")
	plan, err := p.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := plan.String(); !strings.Contains(s, "update") || !strings.Contains(s, "refresh_every changed") || plan.Count(agentmv.ActionRebuild) != 0 {
		t.Errorf("plan for a changed refresh_every:\n%s", s)
	}
	apply(p)
	check("rescheduled", map[string]string{"agentmv:agent_mv.a": "*/2 * * * * | " + cmdA, "agentmv:agent_mv.b": "*/5 * * * * | " + cmdB})

	// An interval this pg_cron (1.4: minutes) cannot express fails the apply; nothing changes.
	if _, err := open("30s", "").Apply(ctx, agentmv.ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "pg_cron before 1.5 cannot run a job every 30s") {
		t.Errorf("apply with refresh_every 30s on pg_cron 1.4: %v", err)
	}
	check("after the refused apply", map[string]string{"agentmv:agent_mv.a": "*/2 * * * * | " + cmdA, "agentmv:agent_mv.b": "*/5 * * * * | " + cmdB})

	// Removed with the schedule, and with the view.
	apply(open("2m", ""))
	check("b unscheduled", map[string]string{"agentmv:agent_mv.a": "*/2 * * * * | " + cmdA})
	// A job changed behind apply's back is reported by doctor.
	if _, err := admin.Exec(ctx, `SELECT cron.schedule('agentmv:agent_mv.a', '*/3 * * * *', $1)`, cmdA); err != nil {
		t.Fatal(err)
	}
	if rep, _ := open("2m", "").Doctor(ctx); !strings.Contains(rep.String(), "✗ pg_cron jobs: job agentmv:agent_mv.a runs") {
		t.Errorf("doctor misses a changed job:\n%s", rep)
	}
	apply(open("2m", ""))
	if _, err := open("2m", "").Drop(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	dp, err := open("2m", "").Drop(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	check("after drop", map[string]string{})
	if len(dp.CronJobs) != 1 {
		t.Errorf("drop reported job changes %q", dp.CronJobs)
	}

	// Back on agent-mv serve: apply removes agentmv's jobs.
	write("materialize/b.sql", "SELECT sum(v) AS total FROM agent_mv.a\n")
	apply(open("1m", ""))
	check("recreated", map[string]string{"agentmv:agent_mv.a": "* * * * * | " + cmdA})
	write("materialize.yaml", strings.Replace(strings.NewReplacer("%A%", "1m", "%B%", "").Replace(cronYAML), "scheduler: pg_cron\n", "", 1))
	p, err = agentmv.Open(ctx, agentmv.Options{ConfigPath: filepath.Join(dir, "materialize.yaml"), DotenvPath: "-",
		Overrides: settings, Environ: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res = apply(p)
	check("scheduler: serve", map[string]string{})
	if len(res.CronJobs) != 1 || !strings.HasPrefix(res.CronJobs[0], "removed pg_cron job") {
		t.Errorf("switch to serve reported %q", res.CronJobs)
	}
}

// TestPgCronMissing: `scheduler: pg_cron` on a database without the extension is a clear error
// that says how to install it, and changes nothing.
func TestPgCronMissing(t *testing.T) {
	t.Parallel()
	pr := newProject(t, "CREATE TABLE t (id int PRIMARY KEY)")
	pr.write("materialize/a.sql", "SELECT id FROM public.t\n")
	pr.write("materialize.yaml", "version: 1\ntarget_schema: agent_mv\nscheduler: pg_cron\nviews:\n  - name: a\n    sql_file: materialize/a.sql\n    description: ids\n    refresh_every: 1h\n")
	_, err := pr.open().Apply(context.Background(), agentmv.ApplyOptions{})
	if !errors.Is(err, boundary.ErrNoPgCron) || !strings.Contains(err.Error(), "CREATE EXTENSION pg_cron in "+pr.db.Name) ||
		!strings.Contains(err.Error(), "shared_preload_libraries") || !strings.Contains(err.Error(), "agent-mv serve") {
		t.Errorf("apply without pg_cron: %v", err)
	}
	var created bool
	if err := pr.admin.QueryRow(context.Background(), "SELECT to_regnamespace('agent_mv') IS NOT NULL").Scan(&created); err != nil || created {
		t.Errorf("a refused apply created schema agent_mv (%v)", err)
	}
}
