package reliability_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/refresh"
)

// slowSeed has a knob table: the slow view sleeps knob.sleep_s seconds while it is computed,
// so a refresh can be caught in the middle.
const slowSeed = `
CREATE TABLE base (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO base SELECT i, i FROM generate_series(1, 1000) i;
CREATE TABLE knob (sleep_s float8 NOT NULL);
INSERT INTO knob VALUES (0);
`

const slowYAML = `version: 1
target_schema: agent_mv
views:
  - name: slow
    sql_file: materialize/slow.sql
    description: base rows, computed slowly on purpose (knob.sleep_s)
    indexes:
      - columns: [id]
        unique: true
`

const slowSQL = `SELECT b.id, b.v
  FROM public.base b
 WHERE (SELECT count(*) FROM public.knob k, pg_catalog.pg_sleep(k.sleep_s)) >= 0
`

// slowProject applies the slow view and refreshes it once (knob 0), then changes the base
// table so that a completed refresh would change the view's contents.
func slowProject(t *testing.T) *project {
	pr := newProject(t, slowSeed)
	pr.write("materialize.yaml", slowYAML)
	pr.write("materialize/slow.sql", slowSQL)
	pr.mustRun("apply", "--yes")
	pr.mustRun("refresh", "slow")
	pr.db.Exec(t, `UPDATE base SET v = v + 1; INSERT INTO base VALUES (1001, 1001)`)
	return pr
}

// contents is a digest of the slow view's rows, and the same digest of what a refresh now
// would produce.
func (pr *project) contents() (view, wouldBe string) {
	pr.t.Helper()
	const digest = `SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM %s`
	ctx := context.Background()
	if err := pr.admin.QueryRow(ctx, strings.Replace(digest, "%s", "agent_mv.slow", 1)).Scan(&view); err != nil {
		pr.t.Fatal(err)
	}
	if err := pr.admin.QueryRow(ctx, strings.Replace(digest, "%s", "public.base", 1)).Scan(&wouldBe); err != nil {
		pr.t.Fatal(err)
	}
	return view, wouldBe
}

// history is the slow view's refresh_history, one "status" per row, oldest first.
func (pr *project) history() []string {
	pr.t.Helper()
	rows, err := pr.admin.Query(context.Background(), `SELECT status FROM agent_mv.refresh_history WHERE view_name = 'slow' ORDER BY id`)
	if err != nil {
		pr.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			pr.t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		pr.t.Fatal(err)
	}
	return out
}

// waitRefreshBackend waits until refresh_view holds its refresh lock on the slow view — the
// transaction-scoped advisory lock (boundary.RefreshLockKey) granted in pg_locks to a backend
// of the runtime role — and returns that backend's pid. This is the state the callers assert
// on (status shows the refresh running in that pid; terminating that pid kills the refresh).
// A backend that merely runs a statement naming refresh_view is not enough: the function
// reads the registry before it takes the lock, and under load that takes a while.
func waitRefreshBackend(t *testing.T, pr *project) int32 {
	t.Helper()
	ctx := context.Background()
	key1, key2, err := boundary.RefreshLockKey(ctx, pr.admin, "agent_mv", "slow")
	if err != nil {
		t.Fatal(err)
	}
	var pid int32
	testutil.WaitFor(t, testutil.Wait, "refresh_view's lock on slow granted to a runtime-role backend", func() (bool, error) {
		err := pr.admin.QueryRow(ctx, `SELECT l.pid
			  FROM pg_catalog.pg_locks l
			  JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
			 WHERE l.locktype = 'advisory' AND l.granted
			   AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
			   AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid AND l.objsubid = 2
			   AND a.usename = $3`, key1, key2, pr.runtimeRole()).Scan(&pid)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	})
	return pid
}

// slowStatus is the slow view's status as the runtime role sees it.
func slowStatus(t *testing.T, pr *project) refresh.ViewStatus {
	t.Helper()
	p := pr.open()
	defer p.Close() // waitNoAgentmvSessions counts this process's sessions too
	st, err := p.Status(context.Background())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	for _, s := range st {
		if s.Name == "slow" {
			return s
		}
	}
	t.Fatalf("status has no slow view: %+v", st)
	return refresh.ViewStatus{}
}

// checkAfterKill asserts what must hold once the refresh's backend is gone: no phantom
// running state, status shows the last real refresh, and the lock is free (a new refresh
// succeeds at once instead of answering busy).
func checkAfterKill(t *testing.T, pr *project, lastSuccess time.Time) {
	t.Helper()
	for _, h := range pr.history() {
		if h == "running" {
			t.Errorf("refresh_history keeps a phantom 'running' row: %v", pr.history())
		}
	}
	st := slowStatus(t, pr)
	if st.Running {
		t.Errorf("status shows a running refresh (pid %d) after its backend died", st.RunningPID)
	}
	if st.LastStatus != "success" || st.LastStartedAt == nil || !st.LastStartedAt.Equal(lastSuccess) {
		t.Errorf("status shows last refresh %q started %v, want the last real one (success, started %v)", st.LastStatus, st.LastStartedAt, lastSuccess)
	}
	pr.db.Exec(t, `UPDATE knob SET sleep_s = 0`)
	start := time.Now()
	res, err := pr.open().Refresh(context.Background(), "slow")
	if err != nil || res.Status != refresh.StatusSuccess {
		t.Fatalf("the refresh after the kill: %+v, %v; want success (the lock must be released)", res, err)
	}
	t.Logf("the next refresh succeeded in %s (%s)", time.Since(start).Round(time.Millisecond), res.Mode)
	if view, want := pr.contents(); view != want {
		t.Errorf("after the next refresh the view does not hold the base rows")
	}
	if st := slowStatus(t, pr); st.Running || st.LastStatus != "success" || !st.LastStartedAt.Equal(*res.StartedAt) {
		t.Errorf("status after the next refresh: running=%v last=%q started %v, want success started %v", st.Running, st.LastStatus, st.LastStartedAt, res.StartedAt)
	}
}

// TestTerminateRefreshBackend terminates the backend of a running refresh from an admin
// connection. The function cannot record its own 'failed' row (its transaction dies with
// it), so the 'running' row it inserted is rolled back too: history keeps only real
// refreshes, and status shows the last one.
func TestTerminateRefreshBackend(t *testing.T) {
	t.Parallel()
	pr := slowProject(t)
	before, wouldBe := pr.contents()
	if before == wouldBe {
		t.Fatal("the base change does not change the view; the test would prove nothing")
	}
	lastSuccess := *slowStatus(t, pr).LastStartedAt
	history := pr.history()
	pr.db.Exec(t, `UPDATE knob SET sleep_s = 30`)

	p := pr.open()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*testutil.Wait)
		defer cancel()
		_, err := p.Refresh(ctx, "slow")
		done <- err
	}()
	pid := waitRefreshBackend(t, pr)
	if st := slowStatus(t, pr); !st.Running || st.RunningPID != pid {
		t.Errorf("status during the refresh: running=%v pid=%d, want running in pid %d", st.Running, st.RunningPID, pid)
	}
	var ok bool
	if err := pr.admin.QueryRow(context.Background(), `SELECT pg_catalog.pg_terminate_backend($1, 10000)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the refresh whose backend was terminated reported success")
		}
		t.Logf("the caller got: %v", err)
	case <-time.After(testutil.Wait):
		t.Fatalf("the refresh call did not return within %s of its backend being terminated", testutil.Wait)
	}
	if view, _ := pr.contents(); view != before {
		t.Error("the view lost its previous contents")
	}
	if got := pr.history(); !equalStrings(got, history) {
		t.Errorf("history changed by a refresh whose backend died: %v, was %v", got, history)
	}
	checkAfterKill(t, pr, lastSuccess)
}

// TestKillRefreshClient SIGKILLs an `agent-mv refresh` process while its refresh runs.
// Postgres does not notice a vanished client until it next talks to it, so the backend
// finishes the statement: the refresh either completes and commits as a whole (new contents,
// one 'success' row) or is rolled back (previous contents, no row) — never anything between,
// and never a phantom 'running' row or a held lock.
func TestKillRefreshClient(t *testing.T) {
	t.Parallel()
	pr := slowProject(t)
	before, wouldBe := pr.contents()
	lastSuccess := *slowStatus(t, pr).LastStartedAt
	history := pr.history()
	pr.db.Exec(t, `UPDATE knob SET sleep_s = 1.5`)

	cmd := pr.command(context.Background(), "refresh", "slow")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitRefreshBackend(t, pr)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var ee interface{ ExitCode() int }
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("agent-mv refresh was not killed: %v\n%s", err, out.String())
	}
	waitNoAgentmvSessions(t, pr)

	view, _ := pr.contents()
	got := pr.history()
	switch {
	case view == before && equalStrings(got, history):
		t.Log("the server rolled the refresh back: previous contents, no history row")
	case view == wouldBe && equalStrings(got, append(history, "success")):
		t.Log("the server completed the refresh after its client died: new contents, one success row")
		lastSuccess = *slowStatus(t, pr).LastStartedAt
		var newest time.Time
		if err := pr.admin.QueryRow(context.Background(), `SELECT max(started_at) FROM agent_mv.refresh_history WHERE view_name = 'slow'`).Scan(&newest); err != nil {
			t.Fatal(err)
		}
		if !newest.Equal(lastSuccess) {
			t.Errorf("status shows last refresh started %v, history's newest is %v", lastSuccess, newest)
		}
	default:
		t.Fatalf("half state after killing the client: view new=%v old=%v, history %v (was %v)", view == wouldBe, view == before, got, history)
	}
	checkAfterKill(t, pr, lastSuccess)
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}
