package skills

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/internal/testutil"
)

// frontMatter splits a Markdown file into its YAML front matter and body.
func frontMatter(t *testing.T, name string, data []byte) (map[string]string, string) {
	t.Helper()
	s := string(data)
	if !strings.HasPrefix(s, "---\n") {
		t.Fatalf("%s: no front matter", name)
	}
	head, body, ok := strings.Cut(s[4:], "\n---\n")
	if !ok {
		t.Fatalf("%s: front matter not closed", name)
	}
	m := map[string]string{}
	if err := yaml.Unmarshal([]byte(head), &m); err != nil {
		t.Fatalf("%s: front matter is not YAML: %v", name, err)
	}
	return m, body
}

func TestInstallFresh(t *testing.T) {
	dir := t.TempDir()
	rep, err := Install(dir, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(Names) + len(Commands) + 1; len(rep.Files) != want {
		t.Fatalf("report has %d files, want %d:\n%s", len(rep.Files), want, rep)
	}
	for _, f := range rep.Files {
		if f.Action != Created {
			t.Errorf("%s: action %q, want created", f.Path, f.Action)
		}
		fi, err := os.Lstat(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			t.Errorf("%s is not a regular file (mode %v); want a copy", f.Path, fi.Mode())
		}
	}
	for _, name := range Names {
		path := filepath.Join(dir, ".claude", "skills", "agent-materialize-"+name, "SKILL.md")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fm, body := frontMatter(t, path, data)
		if fm["name"] != "agent-materialize-"+name {
			t.Errorf("%s: name %q, want %q", path, fm["name"], "agent-materialize-"+name)
		}
		if d := fm["description"]; !strings.HasPrefix(d, "Use when") || len(d) > 300 || strings.Count(d, ". ") > 0 {
			t.Errorf("%s: description should be one sentence starting with \"Use when\": %q", path, d)
		}
		if len(body) < 500 {
			t.Errorf("%s: body too short (%d bytes)", path, len(body))
		}
	}
	for _, name := range Commands {
		path := filepath.Join(dir, ".claude", "commands", "agent-materialize-"+name+".md")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fm, body := frontMatter(t, path, data)
		if fm["description"] == "" {
			t.Errorf("%s: no description", path)
		}
		// Every command points at an installed skill that exists.
		m := regexp.MustCompile(`\.claude/skills/([a-z-]+)/SKILL\.md`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("%s: does not reference a skill file", path)
		} else if _, err := os.Stat(filepath.Join(dir, ".claude", "skills", m[1], "SKILL.md")); err != nil {
			t.Errorf("%s: references a skill that is not installed: %v", path, err)
		}
	}
	var cfg struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	data, err := os.ReadFile(filepath.Join(dir, ".mcp.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf(".mcp.json is not valid JSON: %v", err)
	}
	// The README installs only agent-mv: both servers run as its mcp verb.
	for name, verb := range map[string]string{SetupServer: "setup", RuntimeServer: "runtime"} {
		if got := cfg.MCPServers[name]; got.Command != "agent-mv" || strings.Join(got.Args, " ") != "mcp "+verb {
			t.Errorf("%s: command %q %q, want agent-mv mcp %s", name, got.Command, got.Args, verb)
		}
	}
}

// snapshot returns every file under dir with its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestInstallIdempotentAndRespectsEdits(t *testing.T) {
	dir := t.TempDir()
	if _, err := Install(dir, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)

	// Re-run without force: nothing changes, everything is reported unchanged.
	rep, err := Install(dir, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed() {
		t.Errorf("second install changed files:\n%s", rep)
	}
	for _, f := range rep.Files {
		if f.Action != Unchanged {
			t.Errorf("%s: %q, want unchanged", f.Path, f.Action)
		}
	}
	after := snapshot(t, dir)
	if len(before) != len(after) {
		t.Fatalf("file count changed: %d -> %d", len(before), len(after))
	}
	for p, c := range before {
		if after[p] != c {
			t.Errorf("%s changed on re-run", p)
		}
	}

	// A user edit survives an install without force and is reported as skipped.
	edited := filepath.Join(dir, ".claude", "skills", "agent-materialize-querying-views", "SKILL.md")
	const mine = "---\nname: agent-materialize-querying-views\ndescription: mine\n---\nmy notes\n"
	if err := os.WriteFile(edited, []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = Install(dir, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actionOf(rep, ".claude/skills/agent-materialize-querying-views/SKILL.md"); got != Skipped {
		t.Errorf("edited skill: action %q, want %q", got, Skipped)
	}
	if b := testutil.ReadFile(t, edited); string(b) != mine {
		t.Error("install without --force overwrote a user-edited skill")
	}
	if !strings.Contains(rep.String(), "skipped (modified; use --force)") {
		t.Errorf("report does not tell the user about --force:\n%s", rep)
	}

	// With force the shipped version comes back; .mcp.json is still never rewritten.
	mcp := filepath.Join(dir, ".mcp.json")
	if err := os.WriteFile(mcp, []byte(`{"mcpServers":{"other":{"command":"x"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = Install(dir, InstallOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := actionOf(rep, ".claude/skills/agent-materialize-querying-views/SKILL.md"); got != Updated {
		t.Errorf("forced: action %q, want %q", got, Updated)
	}
	want, err := fs.ReadFile(FS(), "querying-views/SKILL.md")
	if err != nil || len(want) == 0 {
		t.Fatalf("shipped querying-views/SKILL.md: %d bytes, %v", len(want), err)
	}
	if b := testutil.ReadFile(t, edited); !bytes.Equal(b, want) {
		t.Error("install --force did not restore the shipped skill")
	}
	if b := testutil.ReadFile(t, mcp); string(b) != `{"mcpServers":{"other":{"command":"x"}}}` {
		t.Error(".mcp.json was rewritten")
	}
	f := fileOf(t, rep, ".mcp.json")
	if f.Action != Kept || !strings.Contains(f.Note, SetupServer) || !strings.Contains(f.Note, RuntimeServer) {
		t.Errorf(".mcp.json: %q %q, want kept with a note naming both servers", f.Action, f.Note)
	}
	// The entries to add are printed, ready to paste.
	var entries map[string]struct {
		Command string   `json:"command"`
		Args    []string `json:"args"`
	}
	if err := json.Unmarshal([]byte("{"+f.Add+"}"), &entries); err != nil || entries[SetupServer].Command != "agent-mv" ||
		strings.Join(entries[RuntimeServer].Args, " ") != "mcp runtime" {
		t.Errorf(".mcp.json: entries to add %q (%v)", f.Add, err)
	}
	if !strings.Contains(rep.String(), `"agent-materialize-runtime": {"command":"agent-mv","args":["mcp","runtime"]}`) {
		t.Errorf("the report does not print the entries to add:\n%s", rep)
	}
}

func TestInstallReplacesDanglingSeedSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, ".claude", "commands", "agent-materialize-onboard.md")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent/site-packages/onboard.md", link); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(dir, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("dangling symlink not replaced by a copy: %v %v", fi, err)
	}
}

// fileOf returns the report's entry for path and fails the test when there is none.
func fileOf(t *testing.T, r Report, path string) FileResult {
	t.Helper()
	for _, f := range r.Files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("the install report has no entry for %s:\n%s", path, r)
	return FileResult{}
}

func actionOf(r Report, path string) Action {
	for _, f := range r.Files {
		if f.Path == path {
			return f.Action
		}
	}
	return ""
}

// TestContentMatchesTool keeps the instructions honest: they name the real tools, verbs and
// error types, and none of the seed's stale paths.
func TestContentMatchesTool(t *testing.T) {
	all := ""
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(FS(), p)
		all += string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"list_views()", "describe_view(", "query_view(", "refresh_view(", "get_lineage(",
		"list_schemas()", "list_tables(", "describe_table(", "profile_table(", "sample_query(",
		"read_repo_files(", "propose_view(", "finalize_config(",
		"agent-mv init", "agent-mv discover", "agent-mv plan", "agent-mv apply", "agent-mv doctor",
		"agent-mv status", "agent-mv refresh ", "agent-mv refresh-all", "agent-mv drop", "agent-mv dashboard build",
		"not_allowed", "timeout", "syntax", "unknown_view", "read_only", "unavailable", "invalid_argument", "internal",
		"truncated: true", "busy", "fresh", "CONCURRENTLY", "min_refresh_interval", "max_staleness",
		"access boundary verified", "error_type", "hint",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("shipped content never mentions %q", want)
		}
	}
	for _, stale := range []string{".claude/skills/agent-materialize/", "symlink", "psql", "pip install"} {
		if strings.Contains(all, stale) {
			t.Errorf("shipped content mentions the seed's %q", stale)
		}
	}
}

// TestInstallNotesSeedMCPCommands: an .mcp.json from the seed (or an older agentmv) runs
// commands the README's install does not provide; Install keeps it and says so.
func TestInstallNotesSeedMCPCommands(t *testing.T) {
	dir := t.TempDir()
	seed := `{"mcpServers":{"agent-materialize-setup":{"command":"agent-materialize-setup-mcp"},"agent-materialize-runtime":{"command":"agent-materialize-runtime-mcp"}}}`
	if err := os.WriteFile(filepath.Join(dir, ".mcp.json"), []byte(seed), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Install(dir, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f := fileOf(t, rep, ".mcp.json"); f.Action != Kept || f.Add != "" || !strings.Contains(f.Note, `agent-materialize-setup runs "agent-materialize-setup-mcp"`) ||
		!strings.Contains(f.Note, "`agent-mv mcp runtime`") {
		t.Errorf(".mcp.json: %q, note %q, add %q", f.Action, f.Note, f.Add)
	}
	if b := testutil.ReadFile(t, filepath.Join(dir, ".mcp.json")); string(b) != seed {
		t.Error(".mcp.json was rewritten")
	}
}
