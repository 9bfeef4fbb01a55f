package reliability_test

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeHandsOverFromDeadProcess: a serve process killed (SIGKILL) in the middle of a
// refresh hands the view over within a bound. Its database session notices the dead client
// (the claim sets client_connection_check_interval), so the refresh is rolled back and the
// view's refresh lock released long before the refresh itself would end (it sleeps 10
// minutes; the test allows one), and a second serve process then refreshes the view.
func TestServeHandsOverFromDeadProcess(t *testing.T) {
	t.Parallel()
	pr := serveProject(t, "1h", `  - name: slow
    sql_file: materialize/slow.sql
    description: rows of t, slowly when flag.slow is set
    refresh_every: 1s
`, map[string]string{
		"materialize/slow.sql": "WITH pause AS MATERIALIZED (SELECT pg_catalog.pg_sleep(CASE WHEN f.slow THEN 600 ELSE 0 END) FROM public.flag f)\nSELECT t.id FROM public.t, pause\n",
	})
	pr.db.Exec(t, "UPDATE flag SET slow = true")
	p1 := startServe(t, pr, nil, "--poll", "500ms")
	var pid int64
	waitFor(t, 60*time.Second, "the first process's slow refresh to run", func() bool {
		pid = pr.scalarInt(t, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
		  WHERE datname = current_database() AND state = 'active' AND query LIKE '%refresh_view%' AND pid <> pg_backend_pid()`)
		return pid != 0
	})
	// The next refresh is quick; the running one has read the flag already and sleeps on.
	pr.db.Exec(t, "UPDATE flag SET slow = false")
	p2 := startServe(t, pr, nil, "--poll", "500ms")

	p1.signal(t, syscall.SIGKILL, 30*time.Second)
	killed := pr.dbNow(t)
	waitFor(t, 60*time.Second, fmt.Sprintf("the killed process's session (pid %d, sleeping 600 s) to end", pid), func() bool {
		return pr.scalarInt(t, fmt.Sprintf("SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid)) == 0
	})
	waitFor(t, 120*time.Second, "a successful refresh of slow by the surviving process", func() bool {
		for _, r := range pr.refreshes(t, "slow", killed) {
			if r.Status == "success" {
				return true
			}
		}
		return false
	})
	// The killed refresh left no history row behind (it was rolled back with its session), and
	// the view has its rows.
	if n := pr.scalarInt(t, "SELECT count(*) FROM agent_mv.refresh_history WHERE view_name = 'slow' AND finished_at IS NULL"); n != 0 {
		t.Errorf("%d unfinished history rows of slow after the handover", n)
	}
	if n := pr.scalarInt(t, "SELECT count(*) FROM agent_mv.slow"); n != 20 {
		t.Errorf("slow has %d rows after the handover, want 20", n)
	}
	if code, body := p2.get(t, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz of the surviving process: %d %s", code, body)
	}
}

// TestServeReadyz: /readyz answers 503 with the reason and the next step while agentmv's
// objects are not at the version this agentmv expects, and 200 again once they are; /healthz
// (the process is alive) answers 200 throughout.
func TestServeReadyz(t *testing.T) {
	t.Parallel()
	pr := serveProject(t, "1h", "", nil)
	s := startServe(t, pr, nil, "--no-scheduler")
	if code, body := s.get(t, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("/readyz after apply: %d %s", code, body)
	}
	top := pr.scalarInt(t, "SELECT max(version) FROM agent_mv.schema_version")
	var name string
	if err := pr.admin.QueryRow(t.Context(), "DELETE FROM agent_mv.schema_version WHERE version = $1 RETURNING name", top).Scan(&name); err != nil {
		t.Fatal(err)
	}
	code, body := s.get(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"ok":false`) ||
		!strings.Contains(body, fmt.Sprintf("at version %d", top-1)) || !strings.Contains(body, "run `agent-mv apply`") {
		t.Errorf("/readyz with the schema one version behind: %d %s", code, body)
	}
	if code, body := s.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the schema behind: %d %s", code, body)
	}
	pr.db.Exec(t, fmt.Sprintf("INSERT INTO agent_mv.schema_version (version, name) VALUES (%d, '%s')", top, strings.ReplaceAll(name, "'", "''")))
	if code, body := s.get(t, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz once the schema is back at its version: %d %s", code, body)
	}
}
