package reliability_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/internal/testutil"
)

// serveProc is a running `agent-mv serve` subprocess.
type serveProc struct {
	base string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	log  *lockedLog
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// startServe starts `agent-mv serve` for the project on a free loopback port and waits for it
// to listen. It is killed at the end of the test if still running. env is added to the
// project's environment.
func startServe(t *testing.T, pr *project, env []string, args ...string) *serveProc {
	t.Helper()
	cmd := pr.command(context.Background(), append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serveProc{cmd: cmd, log: &lockedLog{}, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.log.mu.Lock()
			s.log.lines = append(s.log.lines, line)
			s.log.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "serving MCP on "); ok {
				ready <- strings.TrimSuffix(rest, "/mcp")
			}
		}
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
		t.Logf("serve output:\n%s", s.log)
	})
	select {
	case s.base = <-ready:
	case <-s.done:
		t.Fatalf("agent-mv serve exited at start: %v\n%s", s.err, s.log)
	case <-time.After(60 * time.Second):
		t.Fatalf("agent-mv serve did not listen within 60s:\n%s", s.log)
	}
	return s
}

// signal sends sig and waits up to limit for the process to exit; it returns how long that took.
func (s *serveProc) signal(t *testing.T, sig syscall.Signal, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("agent-mv serve did not exit within %s of %s:\n%s", limit, sig, s.log)
		return 0
	}
}

// get fetches a probe and returns its status code and body.
func (s *serveProc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(s.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor is testutil.WaitFor for conditions that fail the test themselves on errors.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, within, what, func() (bool, error) { return cond(), nil })
}

// refreshRow is one finished refresh of a view.
type refreshRow struct {
	Started, Finished time.Time
	Status, SQLState  string
}

// refreshes returns the finished refreshes of view that started after since, oldest first.
func (pr *project) refreshes(t *testing.T, view string, since time.Time) []refreshRow {
	t.Helper()
	rows, err := pr.admin.Query(context.Background(), `SELECT started_at, finished_at, status, coalesce(sqlstate, '')
	  FROM agent_mv.refresh_history WHERE view_name = $1 AND finished_at IS NOT NULL AND started_at > $2
	 ORDER BY started_at, id`, view, since)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[refreshRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (pr *project) dbNow(t *testing.T) time.Time {
	t.Helper()
	var now time.Time
	if err := pr.admin.QueryRow(context.Background(), "SELECT clock_timestamp()").Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

func (pr *project) scalarInt(t *testing.T, sql string) int64 {
	t.Helper()
	var n int64
	if err := pr.admin.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// checkSpacing asserts that each refresh started at least every after the previous success
// finished: what "once per interval, not once per process" means, independent of load.
func checkSpacing(t *testing.T, rows []refreshRow, every time.Duration) {
	t.Helper()
	for i := 1; i < len(rows); i++ {
		if gap := rows[i].Started.Sub(rows[i-1].Finished); gap < every {
			t.Errorf("refresh %d started %s after refresh %d finished, less than refresh_every %s: the work was doubled", i, gap, i-1, every)
		}
	}
}

const serveSeed = `
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO t SELECT i, i FROM generate_series(1, 20) i;
CREATE TABLE flag (slow boolean NOT NULL);
INSERT INTO flag VALUES (false);
`

// serveProject applies views: a (from t, every 1s), b (from a, no schedule of its own), and the
// views the test adds to the YAML.
func serveProject(t *testing.T, aEvery string, extraViews string, files map[string]string) *project {
	t.Helper()
	pr := newProject(t, serveSeed)
	pr.write("materialize.yaml", `version: 1
target_schema: agent_mv
views:
  - name: a
    sql_file: materialize/a.sql
    description: rows of t
    refresh_every: `+aEvery+`
  - name: b
    sql_file: materialize/b.sql
    description: total of a
`+extraViews)
	pr.write("materialize/a.sql", "SELECT id, v FROM public.t\n")
	pr.write("materialize/b.sql", "SELECT count(*) AS n, sum(v) AS total FROM agent_mv.a\n")
	for name, body := range files {
		pr.write(name, body)
	}
	pr.mustRun("apply", "--yes")
	return pr
}

// TestServeRefreshesOnSchedule: with `agent-mv serve` running, a write to a base table shows
// up in the scheduled view a and in its unscheduled descendant b without any manual refresh;
// the probes answer; the MCP tools work over HTTP; plan and status show the schedule; SIGTERM
// stops the server within its bound.
func TestServeRefreshesOnSchedule(t *testing.T) {
	t.Parallel()
	pr := serveProject(t, "1s", "", nil)
	if res := pr.mustRun("plan"); !strings.Contains(res.stdout, "refreshed every 1s") {
		t.Errorf("plan does not show the schedule:\n%s", res.stdout)
	}
	s := startServe(t, pr, nil, "--shutdown-timeout", "3s", "--poll", "1s")
	// What is scheduled is said at start, without --verbose.
	if want := "scheduler: refreshing a every 1s (and the views that read them, after them); without refresh_every: b"; !strings.Contains(s.log.String(), want) {
		t.Errorf("serve's start does not say what it schedules; want %q in:\n%s", want, s.log)
	}
	if code, body := s.get(t, "/healthz"); code != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := s.get(t, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Errorf("/readyz: %d %s", code, body)
	}
	cs := httpSession(t, s.base+"/mcp", &http.Client{})
	if r := callTool(context.Background(), cs, "list_views", map[string]any{}); r.err != nil || r.errorType != "" || !strings.Contains(r.text, `"a"`) {
		t.Errorf("list_views over serve's HTTP: %s", r)
	}

	pr.db.Exec(t, "INSERT INTO t VALUES (1000, 5000)")
	waitFor(t, 60*time.Second, "the new row in a and b", func() bool {
		return pr.scalarInt(t, "SELECT count(*) FROM agent_mv.a WHERE id = 1000") == 1 &&
			pr.scalarInt(t, "SELECT total FROM agent_mv.b") == 5000+20*21/2
	})

	res := pr.mustRun("status", "--json")
	var st []struct {
		Name         string     `json:"name"`
		RefreshEvery int64      `json:"refresh_every_ns"`
		NextDueAt    *time.Time `json:"next_due_at"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, res.stdout)
	}
	for _, v := range st {
		scheduled := v.Name == "a"
		if (v.RefreshEvery == int64(time.Second)) != scheduled || (v.NextDueAt != nil) != scheduled {
			t.Errorf("status of %s: refresh_every_ns %d, next_due_at %v", v.Name, v.RefreshEvery, v.NextDueAt)
		}
	}

	took := s.signal(t, syscall.SIGTERM, 30*time.Second)
	if s.err != nil {
		t.Errorf("serve exited with %v after SIGTERM", s.err)
	}
	if !strings.Contains(s.log.String(), "agent-mv serve: stopped") {
		t.Errorf("serve did not say it stopped:\n%s", s.log)
	}
	t.Logf("serve stopped %s after SIGTERM", took)
}

// TestServeTwoProcesses: two serve processes on one database refresh a view once per
// interval between them, not once each (every refresh starts at least refresh_every after the
// previous one finished); after one is killed with SIGKILL the other keeps doing the work.
func TestServeTwoProcesses(t *testing.T) {
	t.Parallel()
	const every = 2 * time.Second
	pr := serveProject(t, "2s", "", nil)
	start := pr.dbNow(t)
	p1 := startServe(t, pr, nil, "--poll", "500ms")
	startServe(t, pr, nil, "--poll", "500ms")
	waitFor(t, 120*time.Second, "6 scheduled refreshes of a", func() bool { return len(pr.refreshes(t, "a", start)) >= 6 })

	p1.signal(t, syscall.SIGKILL, 30*time.Second)
	killed := pr.dbNow(t)
	waitFor(t, 120*time.Second, "3 refreshes of a after one process was killed", func() bool {
		return len(pr.refreshes(t, "a", killed)) >= 3
	})
	rows := pr.refreshes(t, "a", start)
	for _, r := range rows {
		if r.Status != "success" {
			t.Errorf("refresh of a: %+v", r)
		}
	}
	checkSpacing(t, rows, every)
	// b, brought along by each refresh of a, is not doubled either: between two refreshes of b
	// there is a refresh of a.
	bs := pr.refreshes(t, "b", start)
	if len(bs) < 3 {
		t.Errorf("b was brought along %d times while a was refreshed %d times", len(bs), len(rows))
	}
	for i := 1; i < len(bs); i++ {
		between := false
		for _, r := range rows {
			between = between || (r.Started.After(bs[i-1].Finished) && r.Finished.Before(bs[i].Started))
		}
		if !between {
			t.Errorf("b was refreshed at %s and again at %s with no refresh of a in between", bs[i-1].Started, bs[i].Started)
		}
	}
}

// TestServeBackoff: a failing view is retried after 1 s, 2 s, 4 s, ... (counted from each
// failure's end), its descendant waits, and a healthy view on the same schedule keeps being
// refreshed meanwhile.
func TestServeBackoff(t *testing.T) {
	t.Parallel()
	pr := serveProject(t, "1s", `  - name: bad
    sql_file: materialize/bad.sql
    description: 1000 divided by v
    refresh_every: 1s
  - name: bad_child
    sql_file: materialize/bad_child.sql
    description: rows of bad
`, map[string]string{
		"materialize/bad.sql":       "SELECT id, 1000 / v AS inv FROM public.t\n",
		"materialize/bad_child.sql": "SELECT id FROM agent_mv.bad\n",
	})
	pr.db.Exec(t, "UPDATE t SET v = 0 WHERE id = 3")
	start := pr.dbNow(t)
	startServe(t, pr, nil, "--poll", "500ms")
	waitFor(t, 120*time.Second, "4 failed refreshes of bad", func() bool { return len(pr.refreshes(t, "bad", start)) >= 4 })

	fails := pr.refreshes(t, "bad", start)
	for i, r := range fails {
		if r.Status != "failed" || r.SQLState != "22012" {
			t.Errorf("refresh %d of bad: %+v, want failed 22012", i, r)
		}
		if i > 0 {
			want := time.Second << (i - 1)
			if gap := r.Started.Sub(fails[i-1].Finished); gap < want {
				t.Errorf("retry %d of bad started %s after the previous failure, want at least %s", i, gap, want)
			}
		}
	}
	if rows := pr.refreshes(t, "bad_child", start); len(rows) != 0 {
		t.Errorf("bad_child was refreshed while its upstream view failed: %+v", rows)
	}
	// The healthy view was not starved: refreshed on its own schedule while bad backed off
	// (retries 1, 2, 3 wait 1+2+4 = 7 s at least, so a had time for several refreshes).
	last := fails[len(fails)-1].Started
	var during []refreshRow
	for _, r := range pr.refreshes(t, "a", start) {
		if r.Started.Before(last) {
			during = append(during, r)
		}
	}
	if len(during) < 3 {
		t.Errorf("a was refreshed %d times while bad failed 4 times over %s; want at least 3", len(during), last.Sub(start))
	}
	checkSpacing(t, during, time.Second)
}

// TestServeShutdownCancelsRefresh: SIGTERM during a long refresh: the server stops taking
// work, gives the refresh --shutdown-timeout, then cancels it; the database records the
// refresh as canceled (57014) and the view keeps its contents; the process exits within the
// bound.
func TestServeShutdownCancelsRefresh(t *testing.T) {
	t.Parallel()
	pr := serveProject(t, "1h", `  - name: slow
    sql_file: materialize/slow.sql
    description: rows of t, slowly when flag.slow is set
    refresh_every: 1s
`, map[string]string{
		"materialize/slow.sql": "WITH pause AS MATERIALIZED (SELECT pg_catalog.pg_sleep(CASE WHEN f.slow THEN 60 ELSE 0 END) FROM public.flag f)\nSELECT t.id FROM public.t, pause\n",
	})
	pr.db.Exec(t, "UPDATE flag SET slow = true")
	start := pr.dbNow(t)
	const token = "serve-token-7c1e9f"
	s := startServe(t, pr, []string{"AGENTMV_TEST_SERVE_TOKEN=" + token}, "--poll", "500ms", "--shutdown-timeout", "1s",
		"--token-env", "AGENTMV_TEST_SERVE_TOKEN")
	// The probes need no token; the MCP endpoint does (the hardening of mcp runtime --http).
	if code, _ := s.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz without a token: %d", code)
	}
	if code, _ := s.get(t, "/mcp"); code != http.StatusUnauthorized {
		t.Errorf("/mcp without a token: %d, want 401", code)
	}
	// Inside its REFRESH (which holds the view's lock), not merely called: a cancel before
	// refresh_view's protected block would abort the call before it records anything.
	waitFor(t, 60*time.Second, "the slow refresh to hold the view's lock", func() bool {
		return pr.scalarInt(t, `SELECT count(*) FROM pg_locks l
		  WHERE l.relation = 'agent_mv.slow'::regclass AND l.granted AND l.pid <> pg_backend_pid()
		    AND l.mode IN ('ExclusiveLock', 'AccessExclusiveLock')`) > 0
	})
	took := s.signal(t, syscall.SIGTERM, 30*time.Second)
	if s.err != nil {
		t.Errorf("serve exited with %v after SIGTERM", s.err)
	}
	t.Logf("serve stopped %s after SIGTERM (shutdown-timeout 1s)", took)
	rows := pr.refreshes(t, "slow", start)
	if len(rows) != 1 || rows[0].Status != "failed" || rows[0].SQLState != "57014" {
		t.Errorf("refreshes of slow since start: %+v, want one failed with 57014 (canceled)", rows)
	}
	if n := pr.scalarInt(t, "SELECT count(*) FROM agent_mv.slow"); n != 20 {
		t.Errorf("slow has %d rows after the canceled refresh, want its old 20", n)
	}
}
