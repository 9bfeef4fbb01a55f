package agentmv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenFindsTheProjectUpward: from a subdirectory of the project, Open (what every CLI verb
// calls) finds materialize.yaml in the nearest parent, as git finds .git, and reads the .env
// next to it; with an explicit ConfigPath (--config) it reads the .env next to that file,
// not the one in the working directory. The search stops at a repository root.
func TestOpenFindsTheProjectUpward(t *testing.T) {
	ctx := context.Background()
	path := writeProject(t, "version: 1\ntarget_schema: agent_mv\nviews:\n"+view("a"), map[string]string{
		"materialize/a.sql": okSQL,
		".env":              "DATABASE_URL=postgres://admin:pw@project-host/app\n",
	})
	root := filepath.Dir(path)
	sub := filepath.Join(root, "app", "models")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }

	t.Chdir(sub)
	p, err := Open(ctx, Options{Environ: noEnv})
	if err != nil {
		t.Fatalf("Open from a subdirectory: %v", err)
	}
	if got, _ := filepath.EvalSymlinks(p.Config().Path); got != mustEval(t, path) {
		t.Errorf("config = %s, want %s", p.Config().Path, path)
	}
	if got := p.Settings().DatabaseURL; got != "postgres://admin:pw@project-host/app" {
		t.Errorf("DATABASE_URL = %q, want the project's .env", got)
	}
	p.Close()

	// --config elsewhere: the .env next to that file, not the working directory's.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, ".env"), []byte("DATABASE_URL=postgres://wrong@cwd-host/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(other)
	p, err = Open(ctx, Options{ConfigPath: path, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Settings().DatabaseURL; got != "postgres://admin:pw@project-host/app" {
		t.Errorf("with --config: DATABASE_URL = %q, want the .env next to the config", got)
	}
	p.Close()

	// A repository root without materialize.yaml ends the search.
	repo := filepath.Join(root, "vendored")
	if err := os.MkdirAll(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := FindConfig(repo); got != "" {
		t.Errorf("FindConfig crossed a repository root: %s", got)
	}
	if got := FindConfig(sub); mustEval(t, got) != mustEval(t, path) {
		t.Errorf("FindConfig(%s) = %s", sub, got)
	}
}

func mustEval(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPlaceholderDSNIsNamed: a .env copied from .env.example and not edited gets an error
// that says so, instead of a DNS failure for the host "HOST".
func TestPlaceholderDSNIsNamed(t *testing.T) {
	path := writeProject(t, "version: 1\ntarget_schema: agent_mv\nviews:\n"+view("a"), map[string]string{
		"materialize/a.sql": okSQL,
		".env":              "DATABASE_URL=postgresql://USER:PASS@HOST:5432/DBNAME\nAGENT_MV_RUNTIME_URL=postgresql://agent_mv_runtime:PASS@HOST:5432/DBNAME\n",
	})
	p, err := Open(context.Background(), Options{ConfigPath: path, Environ: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Plan(context.Background())
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL still holds the placeholders of .env.example") || strings.Contains(err.Error(), "PASS@") {
		t.Errorf("Plan with the template .env = %v", err)
	}
	if _, err := p.Refresher(context.Background()); err == nil || !strings.Contains(err.Error(), "AGENT_MV_RUNTIME_URL still holds the placeholders") {
		t.Errorf("Refresher with the template .env = %v", err)
	}
}
