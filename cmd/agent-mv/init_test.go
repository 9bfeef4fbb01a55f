package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/testutil"
)

// runCLI runs agent-mv in-process and returns exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// snapshot records every file under dir with its contents and modification time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		content := ""
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			content = string(b)
		}
		snap[rel] = info.Mode().String() + " " + info.ModTime().Format(time.RFC3339Nano) + " " + content
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "materialize.yaml")
	code, stdout, stderr := runCLI(t, "--config", cfgPath, "init")
	if code != 0 || stderr != "" {
		t.Fatalf("init: exit %d, stderr %q", code, stderr)
	}
	wantOut := "✓ initialized agent-materialize in " + dir + `
  - materialize.yaml
  - materialize/  (empty — your agent fills this during onboarding)
  - .env.example
  - .gitignore  (ignores .env, .materialize-staging.yaml)
Agent files (skills, slash commands, MCP servers):
  created  .claude/skills/agent-materialize-setup-database/SKILL.md
  created  .claude/skills/agent-materialize-querying-views/SKILL.md
  created  .claude/skills/agent-materialize-adding-a-view/SKILL.md
  created  .claude/skills/agent-materialize-troubleshoot-refresh/SKILL.md
  created  .claude/commands/agent-materialize-onboard.md
  created  .claude/commands/agent-materialize-add-view.md
  created  .claude/commands/agent-materialize-troubleshoot.md
  created  .mcp.json
Next:
  1. cp .env.example .env, then set DATABASE_URL, AGENT_MV_RUNTIME_URL and AGENT_MV_RUNTIME_PASSWORD in .env
  2. add views to materialize.yaml with one SQL file each under materialize/ (or let your agent propose them during onboarding)
  3. run ` + "`agent-mv apply`" + `
`
	if diff := cmp.Diff(wantOut, stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	files := map[string]string{
		"materialize.yaml": "version: 1\ntarget_schema: agent_mv\nviews: []\n" +
			"# What apply may take away from PUBLIC, i.e. from every role of this database. Left as\n" +
			"# Postgres has it unless you say so here, since other roles may rely on it; `agent-mv doctor`\n" +
			"# reports what the runtime role can do with it.\n" +
			"# public_privileges:\n" +
			"#   revoke_temporary: true                # only roles granted TEMPORARY may create temp tables\n" +
			"#   revoke_create_on_public_schema: true  # nobody but its owner creates in schema public (granted to PUBLIC before PostgreSQL 15)\n",
		".env.example": `# Connection string with full setup-time privileges (used by agent-mv apply + setup-mcp)
DATABASE_URL=postgresql://USER:PASS@HOST:5432/DBNAME
# Connection string with view-only runtime privileges (used by runtime-mcp).
# The password here MUST match AGENT_MV_RUNTIME_PASSWORD below.
AGENT_MV_RUNTIME_URL=postgresql://agent_mv_runtime:PASS@HOST:5432/DBNAME
# Password set on the runtime role when ` + "`agent-mv apply`" + ` first creates it.
# Must match the password embedded in AGENT_MV_RUNTIME_URL above. Default: agent_mv_runtime.
AGENT_MV_RUNTIME_PASSWORD=PASS
`,
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, string(got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	// .gitignore keeps the secrets and the staging file out of git; an existing one is kept
	// and only completed.
	if got := string(testutil.ReadFile(t, filepath.Join(dir, ".gitignore"))); !strings.Contains(got, "\n.env\n.materialize-staging.yaml\n") {
		t.Errorf(".gitignore = %q", got)
	}
	if st, err := os.Stat(filepath.Join(dir, "materialize")); err != nil || !st.IsDir() {
		t.Errorf("materialize/ not created: %v", err)
	}
	// The template is a valid, empty project.
	cfg, err := agentmv.LoadConfig(cfgPath)
	if err != nil {
		t.Fatalf("the template does not load: %v", err)
	}
	if cfg.TargetSchema != "agent_mv" || len(cfg.Views) != 0 || len(cfg.Warnings) != 0 {
		t.Errorf("template config = %+v", cfg)
	}

	// A second run refuses with the seed's message and changes nothing.
	before := snapshot(t, dir)
	code, stdout, stderr = runCLI(t, "--config", cfgPath, "init")
	if code != 1 || stdout != "" {
		t.Errorf("second init: exit %d, stdout %q", code, stdout)
	}
	wantErr := "error: materialize.yaml already exists at " + cfgPath + " (nothing was changed; edit it, or remove it to start over)\n"
	if stderr != wantErr {
		t.Errorf("second init stderr:\n got %q\nwant %q", stderr, wantErr)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("second init changed files (-before +after):\n%s", diff)
	}

	// Skills are real copies with front matter, in the layout agent clients discover.
	for _, name := range []string{"setup-database", "querying-views", "adding-a-view", "troubleshoot-refresh"} {
		p := filepath.Join(dir, ".claude", "skills", "agent-materialize-"+name, "SKILL.md")
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("%s: not a regular file (%v)", p, err)
		}
		b := testutil.ReadFile(t, p)
		if !strings.HasPrefix(string(b), "---\nname: agent-materialize-"+name+"\n") || !strings.Contains(string(b), "\ndescription: ") {
			t.Errorf("%s: missing name/description front matter:\n%.200s", p, b)
		}
	}
	// --force keeps materialize.yaml and, with nothing edited, rewrites nothing.
	code, _, stderr = runCLI(t, "--config", cfgPath, "init", "--force")
	if code != 0 {
		t.Fatalf("init --force: exit %d: %s", code, stderr)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("init --force on an unedited project changed files (-before +after):\n%s", diff)
	}
}

func TestInitKeepsEditedEnvExample(t *testing.T) {
	dir := t.TempDir()
	edited := "DATABASE_URL=postgres://me@localhost/app\n"
	if err := os.WriteFile(filepath.Join(dir, ".env.example"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "materialize"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("DATABASE_URL=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("node_modules\n/.env"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "--json", "--config", filepath.Join(dir, "materialize.yaml"), "init")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res initResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	want := initResult{
		Dir:     dir,
		Created: []string{"materialize.yaml", ".gitignore  (ignores .materialize-staging.yaml)"},
		Kept:    []string{"materialize/", ".env.example"},
		Notes:   []string{".env.example already exists and differs from the template; left it unchanged"},
		Next: []string{
			"check that .env sets DATABASE_URL, AGENT_MV_RUNTIME_URL and AGENT_MV_RUNTIME_PASSWORD (see .env.example)",
			"add views to materialize.yaml with one SQL file each under materialize/ (or let your agent propose them during onboarding)",
			"run `agent-mv apply`",
		},
	}
	if diff := cmp.Diff(want, res, cmpopts.IgnoreFields(initResult{}, "AgentFiles")); diff != "" {
		t.Errorf("init result (-want +got):\n%s", diff)
	}
	if got := string(testutil.ReadFile(t, filepath.Join(dir, ".gitignore"))); got != "node_modules\n/.env\n# agent-mv: local secrets and the setup agent's staging file\n.materialize-staging.yaml\n" {
		t.Errorf("an existing .gitignore was not kept and completed: %q", got)
	}
	if got := testutil.ReadFile(t, filepath.Join(dir, ".env.example")); string(got) != edited {
		t.Errorf(".env.example was overwritten: %q", got)
	}
	// Text mode says so too.
	dir2 := t.TempDir()
	os.WriteFile(filepath.Join(dir2, ".env.example"), []byte(edited), 0o644)
	_, stdout, _ = runCLI(t, "--config", filepath.Join(dir2, "materialize.yaml"), "init")
	if !strings.Contains(stdout, "⚠ .env.example already exists and differs from the template; left it unchanged\n") ||
		!strings.Contains(stdout, "  - .env.example  (already there, kept)\n") {
		t.Errorf("text output does not mention the kept .env.example:\n%s", stdout)
	}
}

func TestInitIntoNewDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	code, _, stderr := runCLI(t, "--config", filepath.Join(dir, "project.yaml"), "init")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, name := range []string{"project.yaml", ".env.example", "materialize"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	code, _, stderr = runCLI(t, "--config", filepath.Join(dir, "project.yaml"), "init")
	if code != 1 || !strings.HasPrefix(stderr, "error: project.yaml already exists at "+filepath.Join(dir, "project.yaml")) {
		t.Errorf("second init: exit %d, stderr %q", code, stderr)
	}
}

// TestInitBinary runs the real binary's init twice in an empty directory, the
// way a user does (default --config, working directory = project).
func TestInitBinary(t *testing.T) {
	t.Parallel()
	bin := agentMV(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "init")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("agent-mv init: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "✓ initialized agent-materialize in ") {
		t.Errorf("output: %s", out)
	}
	for _, name := range []string{"materialize.yaml", ".env.example", "materialize"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	before := snapshot(t, dir)
	cmd = exec.Command(bin, "init")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if err == nil || !errorsAs(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("second init: err = %v, want exit status 1", err)
	}
	realDir, _ := filepath.EvalSymlinks(dir)
	if got := stderr.String(); !strings.HasPrefix(got, "error: materialize.yaml already exists at ") ||
		!(strings.Contains(got, filepath.Join(dir, "materialize.yaml")) || strings.Contains(got, filepath.Join(realDir, "materialize.yaml"))) {
		t.Errorf("second init stderr: %q", got)
	}
	if stdout.Len() != 0 {
		t.Errorf("second init stdout: %q", stdout.String())
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("second init changed files (-before +after):\n%s", diff)
	}
}
