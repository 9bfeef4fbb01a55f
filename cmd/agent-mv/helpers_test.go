package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentmv/agentmv/internal/pglocal"
)

// startCluster starts a throwaway Postgres cluster for one test (the CLI creates roles and
// databases cluster-wide, so each test gets a server of its own), stopped when the test ends.
func startCluster(t *testing.T) *pglocal.Cluster {
	t.Helper()
	c, err := pglocal.Start(context.Background(), pglocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// writeFile writes content to name (relative to dir), creating its folders.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cliEnv is this process's environment without its database settings, plus the settings of
// a project on cluster c: the admin DSN, and the runtime role agent_mv_runtime with password.
func cliEnv(c *pglocal.Cluster, password string) []string {
	return append(withoutDatabaseEnv(os.Environ()),
		"DATABASE_URL="+c.URL("postgres"),
		"AGENT_MV_RUNTIME_URL="+c.URLFor("agent_mv_runtime", password, "postgres"),
		"AGENT_MV_RUNTIME_PASSWORD="+password)
}
