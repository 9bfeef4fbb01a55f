package reliability_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentmv/agentmv/internal/testutil"
)

// fanSeed is a base table with enough rows that building 20 views takes a measurable time, and
// a second table that the changed root view joins (so the root's YAML sources change too).
const fanSeed = `
CREATE TABLE base (id int PRIMARY KEY, g int NOT NULL, v int NOT NULL);
INSERT INTO base SELECT i, i % 50, i * 7 % 1000 FROM generate_series(1, 5000) i;
CREATE TABLE extra (g int PRIMARY KEY, bump int NOT NULL);
INSERT INTO extra SELECT g, g * 3 FROM generate_series(0, 49) g;
ANALYZE base; ANALYZE extra;
`

const (
	rootOld = "SELECT id, g, v FROM public.base\n"
	rootNew = "SELECT b.id, b.g, b.v + e.bump AS v FROM public.base b JOIN public.extra e ON e.g = b.g\n"
)

// fanViews is the number of managed views; v00 is the root, v<i> reads v<(i-1)/2>, so a change
// of v00 rebuilds all of them (a binary tree four levels deep: chains and fans).
const fanViews = 20

// writeFanProject writes materialize.yaml and the SQL files of the 20-view tree with root.
func writeFanProject(pr *project, root string) {
	var y strings.Builder
	y.WriteString("# reliability: 20 views over public.base\nversion: 1\ntarget_schema: agent_mv\nviews:\n")
	for i := 0; i < fanViews; i++ {
		name := fmt.Sprintf("v%02d", i)
		fmt.Fprintf(&y, "  - name: %s\n    sql_file: materialize/%s.sql\n    description: view %d of the fan\n", name, name, i)
		if i%2 == 0 {
			y.WriteString("    indexes:\n      - columns: [id]\n        unique: true\n")
		}
		body := root
		if i > 0 {
			body = fmt.Sprintf("SELECT id, g, v + %d AS v FROM agent_mv.v%02d\n", i, (i-1)/2)
		}
		pr.write("materialize/"+name+".sql", body)
	}
	pr.write("materialize.yaml", y.String())
}

// waitNoAgentmvSessions waits until no backend of a (killed) agent-mv process is left in the
// database, so that a snapshot cannot race a COMMIT the killed client had already sent.
func waitNoAgentmvSessions(t *testing.T, pr *project) {
	t.Helper()
	testutil.WaitFor(t, testutil.Wait, "no agentmv backend left in the database after the client was killed", func() (bool, error) {
		var n int
		var act string
		err := pr.admin.QueryRow(context.Background(), `SELECT count(*), coalesce(string_agg(format('pid %s user %s state %s wait %s/%s xact_start %s query %s',
				pid, usename, state, wait_event_type, wait_event, xact_start, query), E'\n'), '')
			  FROM pg_catalog.pg_stat_activity WHERE datname = current_database() AND application_name = 'agentmv'`).Scan(&n, &act)
		if err == nil && n > 0 {
			err = fmt.Errorf("%d agentmv backends still alive:\n%s", n, act)
		}
		return err == nil, err
	})
}

// TestKillDuringApply SIGKILLs `agent-mv apply --yes` at random points of an apply that
// rebuilds 20 views and checks that the database is exactly the old or exactly the new state,
// that materialize.yaml is byte for byte the old or the new file, and that the next apply
// succeeds. Trials alternate direction (old→new, new→old), so each one costs a killed apply
// plus one completing apply.
func TestKillDuringApply(t *testing.T) {
	t.Parallel()
	trials := 20
	if s := os.Getenv("AGENTMV_RELIABILITY_KILL_TRIALS"); s != "" {
		fmt.Sscan(s, &trials)
	}
	pr := newProject(t, fanSeed)
	writeFanProject(pr, rootOld)
	pr.mustRun("apply", "--yes")
	state := map[string]struct {
		snap string
		yaml []byte
		root string
	}{}
	state["old"] = struct {
		snap string
		yaml []byte
		root string
	}{pr.snapshot(), pr.read("materialize.yaml"), rootOld}

	pr.write("materialize/v00.sql", rootNew)
	res := pr.mustRun("apply", "--yes")
	if !strings.Contains(res.stdout, "20 created or rebuilt") {
		t.Fatalf("the changed root did not rebuild all 20 views:\n%s", res.stdout)
	}
	state["new"] = struct {
		snap string
		yaml []byte
		root string
	}{pr.snapshot(), pr.read("materialize.yaml"), rootNew}
	if state["old"].snap == state["new"].snap {
		t.Fatal("old and new snapshots are equal; the test would prove nothing")
	}
	if bytes.Equal(state["old"].yaml, state["new"].yaml) {
		t.Fatal("old and new materialize.yaml are equal; the root's sources should differ")
	}
	// Measure a full apply in the other direction to pick kill points.
	pr.write("materialize/v00.sql", rootOld)
	measured := pr.mustRun("apply", "--yes")
	full := measured.elapsed
	inTx := applyElapsed(t, measured.stdout)
	t.Logf("a full apply rebuilding %d views takes %s from process start to exit, %s of it in the apply transaction", fanViews, full, inTx)
	cur := "old"

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 10))
	outcomes := map[string]int{}
	for trial := 0; trial < trials; trial++ {
		target := map[string]string{"old": "new", "new": "old"}[cur]
		pr.write("materialize/v00.sql", state[target].root)
		// Even trials: anywhere in the process's life. Odd trials: inside the apply
		// transaction, where a kill is most interesting: wait until the process holds the
		// apply lock (its first statement), then kill it at once (trial%4 == 1: a kill inside
		// the transaction by state, however long a loaded machine makes it) or at a random
		// point of the transaction's measured length (trial%4 == 3).
		delay := time.Duration(rng.Int64N(int64(full)))

		cmd := pr.command(context.Background(), "apply", "--yes")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(done) }()
		switch trial % 4 {
		case 1:
			waitLockOrExit(t, pr, done)
		case 3:
			for !holdsApplyLock(t, pr) && time.Since(start) < 2*full {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(rng.Int64N(int64(inTx/2) + 1)))
		default:
			time.Sleep(delay)
		}
		delay = time.Since(start)
		inLock := holdsApplyLock(t, pr)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		err := waitErr
		exited := "killed"
		switch {
		case err == nil:
			exited = "finished first"
		case inLock:
			exited = "killed inside the apply transaction"
		}
		waitNoAgentmvSessions(t, pr)

		snap := pr.snapshot()
		yml := pr.read("materialize.yaml")
		var dbState, yamlState string
		for name, s := range state {
			if snap == s.snap {
				dbState = name
			}
			if bytes.Equal(yml, s.yaml) {
				yamlState = name
			}
		}
		if dbState == "" {
			t.Fatalf("trial %d (kill after %s, %s): the database is neither the old nor the new state:\n%s\noutput:\n%s",
				trial, delay, exited, diffLines(state[cur].snap, snap), out.String())
		}
		if yamlState == "" {
			t.Fatalf("trial %d (kill after %s, %s): materialize.yaml is neither the old nor the new file:\n%s",
				trial, delay, exited, yml)
		}
		// The YAML is written only after the commit: a new YAML with the old database is a bug.
		if yamlState == target && dbState != target {
			t.Fatalf("trial %d: materialize.yaml was rewritten but the database is still the %s state", trial, dbState)
		}
		outcomes[fmt.Sprintf("db=%s yaml=%s (%s)", map[bool]string{true: "target", false: "before"}[dbState == target],
			map[bool]string{true: "target", false: "before"}[yamlState == target], exited)]++

		res := pr.run("apply", "--yes")
		if res.code != 0 {
			t.Fatalf("trial %d: the apply after the kill failed (exit %d):\n%s\n%s", trial, res.code, res.stdout, res.stderr)
		}
		if got := pr.snapshot(); got != state[target].snap {
			t.Fatalf("trial %d: after the completing apply the database is not the %s state:\n%s", trial, target, diffLines(state[target].snap, got))
		}
		if got := pr.read("materialize.yaml"); !bytes.Equal(got, state[target].yaml) {
			t.Fatalf("trial %d: after the completing apply materialize.yaml is not the %s file:\n%s", trial, target, got)
		}
		cur = target
	}
	t.Logf("%d trials: %v", trials, outcomes)
	if outcomes["db=before yaml=before (killed inside the apply transaction)"] < trials/4 {
		t.Errorf("no trial killed the apply before its commit; the kill points miss the transaction: %v", outcomes)
	}
}

// waitLockOrExit polls until an agent-mv backend holds the apply lock or the apply process has
// exited (done closed), however long a loaded machine takes to get there.
func waitLockOrExit(t *testing.T, pr *project, done <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for !holdsApplyLock(t, pr) {
		select {
		case <-done:
			return
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("waited 5m for the apply to take its lock or exit")
		}
	}
}

// holdsApplyLock reports whether an agent-mv backend holds an advisory lock right now (during
// an apply that is its transaction-scoped apply lock, taken first thing in the transaction).
func holdsApplyLock(t *testing.T, pr *project) bool {
	t.Helper()
	var held bool
	if err := pr.admin.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
		JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
		WHERE a.datname = current_database() AND a.application_name = 'agentmv' AND l.locktype = 'advisory' AND l.granted)`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	return held
}

// applyElapsed reads the apply's own duration from "✓ applied … in 1.234s".
func applyElapsed(t *testing.T, stdout string) time.Duration {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		if i := strings.LastIndex(line, " in "); strings.HasPrefix(line, "✓ applied") && i > 0 {
			d, err := time.ParseDuration(strings.TrimSpace(line[i+4:]))
			if err != nil {
				t.Fatalf("apply duration in %q: %v", line, err)
			}
			return d
		}
	}
	t.Fatalf("no apply duration in:\n%s", stdout)
	return 0
}

// diffLines returns the lines of got that are not in want and vice versa.
func diffLines(want, got string) string {
	w := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	g := map[string]bool{}
	var b strings.Builder
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	return b.String()
}
