package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/internal/pglocal"
)

// TestApplyPlanDropCLI drives plan, apply and drop as an operator would, without a terminal:
// apply and drop refuse to guess, --yes proceeds, a second apply is a no-op.
func TestApplyPlanDropCLI(t *testing.T) {
	bin := agentMV(t)
	c, err := pglocal.Start(context.Background(), pglocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("materialize.yaml", "version: 1\ntarget_schema: agent_mv\nviews:\n  # constants\n  - name: one\n    sql_file: materialize/one.sql\n    description: a constant\n  - name: two\n    sql_file: materialize/two.sql\n    description: reads one\n")
	write("materialize/one.sql", "-- a view with no base table\nSELECT 1::bigint AS n;\n")
	write("materialize/two.sql", "SELECT n + 1 AS m FROM agent_mv.one\n")
	env := append(withoutDatabaseEnv(os.Environ()),
		"DATABASE_URL="+c.URL("postgres"),
		"AGENT_MV_RUNTIME_URL="+c.URLFor("agent_mv_runtime", "pw-cli", "postgres"),
		"AGENT_MV_RUNTIME_PASSWORD=pw-cli")
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
	if code, out = run("plan", "--json"); code != 0 || !strings.Contains(out, `"action": "create"`) {
		t.Fatalf("plan after a refused apply must still show creates: exit %d\n%s", code, out)
	}
	if code, out = run("apply", "--yes"); code != 0 || !strings.Contains(out, "✓ applied 2 view(s)") {
		t.Fatalf("apply --yes: exit %d\n%s", code, out)
	}
	yaml, _ := os.ReadFile(filepath.Join(dir, "materialize.yaml"))
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
	if code, out = run("refresh", "nope"); code != 1 || !strings.Contains(out, "unknown materialized view: nope") {
		t.Fatalf("refresh of an unknown view: exit %d\n%s", code, out)
	}
	if code, out = run("drop", "one"); code != 1 || !strings.Contains(out, "Will drop, dependents first: two, one") {
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
