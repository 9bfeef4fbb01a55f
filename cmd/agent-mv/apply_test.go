package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/internal/testutil"
)

// TestApplyPlanDropCLI drives plan, apply and drop as an operator would, without a terminal:
// apply and drop refuse to guess, --yes proceeds, a second apply is a no-op.
func TestApplyPlanDropCLI(t *testing.T) {
	t.Parallel()
	bin := agentMV(t)
	c := startCluster(t)
	dir := t.TempDir()
	writeFile(t, dir, "materialize.yaml", "version: 1\ntarget_schema: agent_mv\nviews:\n  # constants\n  - name: one\n    sql_file: materialize/one.sql\n    description: a constant\n  - name: two\n    sql_file: materialize/two.sql\n    description: reads one\n")
	writeFile(t, dir, "materialize/one.sql", "-- a view with no base table\nSELECT 1::bigint AS n;\n")
	writeFile(t, dir, "materialize/two.sql", "SELECT n + 1 AS m FROM agent_mv.one\n")
	env := cliEnv(c, "pw-cli")
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		cmd.Stdin = nil // not a terminal
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	code, out := run("apply")
	if code != 1 || !strings.Contains(out, "no terminal to ask on; re-run with --yes") || !strings.Contains(out, "+ one") {
		t.Fatalf("apply without a terminal: exit %d\n%s", code, out)
	}
	// With --json the refusal carries the plan it refused to apply.
	code, out = run("apply", "--json")
	var refused struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
		Plan     struct {
			Steps []struct{ View, Action string }
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &refused); err != nil || code != 1 || refused.ExitCode != 1 ||
		!strings.Contains(refused.Error, "re-run with --yes") || len(refused.Plan.Steps) != 2 || refused.Plan.Steps[0].Action != "create" {
		t.Fatalf("apply --json without a terminal: exit %d (%v), want the error and the plan as JSON:\n%s", code, err, out)
	}
	if code, out = run("plan", "--json"); code != 0 || !strings.Contains(out, `"action": "create"`) {
		t.Fatalf("plan after a refused apply must still show creates: exit %d\n%s", code, out)
	}
	if code, out = run("apply", "--yes"); code != 0 || !strings.Contains(out, "✓ applied 2 view(s)") {
		t.Fatalf("apply --yes: exit %d\n%s", code, out)
	}
	yaml := testutil.ReadFile(t, filepath.Join(dir, "materialize.yaml"))
	if !strings.Contains(string(yaml), "# constants") || !strings.Contains(string(yaml), "sources:") {
		t.Errorf("write-back lost the comment or wrote no sources:\n%s", yaml)
	}
	if code, out = run("apply"); code != 0 || !strings.Contains(out, "2 unchanged") {
		t.Fatalf("second apply (no changes, so no question): exit %d\n%s", code, out)
	}
	if code, out = run("doctor"); code != 0 || !strings.Contains(out, "✓ access boundary verified") {
		t.Fatalf("doctor: exit %d\n%s", code, out)
	}
	if code, out = run("refresh-all"); code != 0 || !strings.Contains(out, "2 succeeded, 0 failed, 0 skipped") {
		t.Fatalf("refresh-all: exit %d\n%s", code, out)
	}
	if code, out = run("refresh", "nope"); code != 1 || !strings.Contains(out, "unknown materialized view: nope") || strings.Contains(out, "refresh failed: refresh") {
		t.Fatalf("refresh of an unknown view: exit %d\n%s", code, out)
	}
	if code, out = run("drop", "one"); code != 1 || !strings.Contains(out, "Will drop one and the 1 managed view built on it, dependents first: two, one") ||
		!strings.Contains(out, `"Drop 2 views?" needs an answer, but there is no terminal to ask on; re-run with --yes`) {
		t.Fatalf("drop without a terminal: exit %d\n%s", code, out)
	}
	if code, out = run("drop", "one", "--yes"); code != 0 || !strings.Contains(out, "✓ dropped two") || !strings.Contains(out, "✓ dropped one") {
		t.Fatalf("drop --yes: exit %d\n%s", code, out)
	}
	if code, out = run("drop", "one", "--yes"); code != 1 || !strings.Contains(out, "not a managed view") {
		t.Fatalf("drop of an unknown view: exit %d\n%s", code, out)
	}
	if code, out = run("status"); code != 0 || strings.Contains(out, "one ") {
		t.Fatalf("status after drop: exit %d\n%s", code, out)
	}
}

// TestIndexRemovalIsSaidInWords: a typo in materialize.yaml (`indexs:`) is an error naming the
// line and the key meant, not a silent reindex that drops the unique index; a deliberate
// removal is spelled out by plan (which index, and that refreshes fall back to blocking) and
// counted by apply's summary.
func TestIndexRemovalIsSaidInWords(t *testing.T) {
	t.Parallel()
	bin := agentMV(t)
	c := startCluster(t)
	dir := t.TempDir()
	const head = "version: 1\ntarget_schema: agent_mv\nviews:\n  - name: daily\n    sql_file: materialize/daily.sql\n    description: one row per day\n"
	writeFile(t, dir, "materialize/daily.sql", "SELECT d::date AS day, 1 AS n FROM generate_series('2026-01-01'::date, '2026-01-10', '1 day') d\n")
	writeFile(t, dir, "materialize.yaml", head+"    indexes:\n      - columns: [day]\n        unique: true\n")
	env := cliEnv(c, "pw-ix")
	run := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
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
	if code, out := run("refresh", "daily"); code != 0 || !strings.Contains(out, "concurrent") {
		t.Fatalf("refresh with the unique index: exit %d\n%s", code, out)
	}

	// The typo: plan and apply refuse, naming the file, the line and the key meant.
	writeFile(t, dir, "materialize.yaml", head+"    indexs:\n      - columns: [day]\n        unique: true\n")
	for _, verb := range []string{"plan", "apply"} {
		code, out := run(verb, "--yes")
		if verb == "plan" {
			code, out = run(verb)
		}
		if code == 0 || !strings.Contains(out, "materialize.yaml: line 7: unknown key \"indexs\" in view \"daily\"; did you mean \"indexes\"?") {
			t.Errorf("%s with `indexs:`: exit %d, want an error naming line 7 and \"indexes\":\n%s", verb, code, out)
		}
	}
	// Nothing changed: with the typo fixed the plan is a no-op and the unique index still serves.
	writeFile(t, dir, "materialize.yaml", head+"    indexes:\n      - columns: [day]\n        unique: true\n")
	if code, out := run("plan"); code != 0 || !strings.Contains(out, "1 unchanged") {
		t.Errorf("after the refused apply: exit %d\n%s", code, out)
	}
	if code, out := run("refresh", "daily"); code != 0 || !strings.Contains(out, "concurrent") {
		t.Errorf("after the refused apply the unique index must still be there: exit %d\n%s", code, out)
	}

	// A deliberate removal is said in words and counted.
	writeFile(t, dir, "materialize.yaml", head)
	code, out := run("plan")
	if code != 0 || !strings.Contains(out, "removes unique index daily_day_idx (day)") ||
		!strings.Contains(out, "refreshes fall back to blocking") || !strings.Contains(out, "⚠ This plan removes 1 index: daily_day_idx on daily") {
		t.Errorf("plan of an index removal does not say so in words: exit %d\n%s", code, out)
	}
	code, out = run("apply", "--yes")
	if code != 0 || !strings.Contains(out, "(0 created or rebuilt, 1 reindexed, 0 updated, 0 dropped)") {
		t.Errorf("apply summary does not count the reindex: exit %d\n%s", code, out)
	}
	if code, out := run("refresh", "daily"); code != 0 || !strings.Contains(out, "blocking") {
		t.Errorf("refresh after removing the index: exit %d\n%s", code, out)
	}
}
