package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestRefreshLockWaitCLI: with a base table locked by another session, `agent-mv refresh` and
// `refresh-all` show what they wait for (relation, mode, blocking pid) while they wait, then
// give up after the view's lock timeout with SQLSTATE 55P03 and exit 1, instead of sitting
// silent until the lock goes away.
func TestRefreshLockWaitCLI(t *testing.T) {
	t.Parallel()
	bin := agentMV(t)
	ctx := context.Background()
	c := startCluster(t)
	dir := t.TempDir()
	admin, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE TABLE public.orders (id int PRIMARY KEY, amount int NOT NULL); INSERT INTO public.orders VALUES (1, 10), (2, 20)"); err != nil {
		t.Fatal(err)
	}
	// 20s, not the default 5s: the CLI reports a wait once the refresh has run a second, and a
	// loaded machine may not schedule it within a 5s window (issue 22).
	writeFile(t, dir, "materialize.yaml", "version: 1\ntarget_schema: agent_mv\nrefresh_lock_timeout: 20s\nviews:\n  - name: totals\n    sql_file: materialize/totals.sql\n    description: order totals\n")
	writeFile(t, dir, "materialize/totals.sql", "SELECT sum(amount) AS total FROM public.orders\n")
	env := cliEnv(c, "pw-lock")
	run := func(args ...string) (int, string) {
		t.Helper()
		// Generous: a bounded wait ends long before this; an unbounded one runs into it.
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, bin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if cctx.Err() != nil {
			t.Fatalf("agent-mv %s still waiting after 2 minutes:\n%s", strings.Join(args, " "), out)
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	if code, out := run("apply", "--yes"); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}

	holder, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	blocker := fmt.Sprintf("pid %d (role postgres) holds AccessExclusiveLock", holder.PgConn().PID())
	for _, args := range [][]string{{"refresh", "totals"}, {"refresh-all"}} {
		code, out := run(args...)
		for _, want := range []string{
			"… totals: waiting ",
			"s for AccessShareLock on public.orders (" + blocker + ")",
			"lock timeout after 20s: table public.orders is locked by pid",
			"SQLSTATE 55P03",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("agent-mv %s: output lacks %q", strings.Join(args, " "), want)
			}
		}
		if code != 1 {
			t.Errorf("agent-mv %s: exit %d, want 1", strings.Join(args, " "), code)
		}
		if t.Failed() {
			t.Logf("output of agent-mv %s:\n%s", strings.Join(args, " "), out)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if code, out := run("refresh", "totals"); code != 0 || strings.Contains(out, "waiting") {
		t.Errorf("refresh without the lock: exit %d\n%s", code, out)
	}
}
