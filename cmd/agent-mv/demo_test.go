package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/agentmv/agentmv/internal/pglocal"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// agentMV builds the agent-mv binary once per test run.
func agentMV(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gobin); err != nil {
			gobin = "go"
		}
		dir, err := os.MkdirTemp("", "agent-mv-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "agent-mv")
		buildOut, buildErr = exec.Command(gobin, "build", "-o", builtBin, ".").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

// TestDemoEndToEnd runs the README's first command, `agent-mv demo`, as a subprocess on a fresh
// throwaway Postgres, and checks that every step ran and the boundary held.
func TestDemoEndToEnd(t *testing.T) {
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
	bin := agentMV(t)
	c, err := pglocal.Start(context.Background(), pglocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
