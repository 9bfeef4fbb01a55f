package agentmv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/tools"
)

// copyProject copies testdata/config/project into a temp dir and returns the YAML's path there.
func copyProject(t *testing.T, yamlName string) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "config", "project")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dst, yamlName)
}

// stripSources removes every `sources:` key and its block list items from a YAML text.
func stripSources(text string) string {
	var out []string
	skipIndent := -1
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if skipIndent >= 0 {
			if trimmed != "" && (indent > skipIndent || (indent == skipIndent && strings.HasPrefix(trimmed, "- "))) {
				continue
			}
			skipIndent = -1
		}
		if strings.HasPrefix(trimmed, "sources:") {
			skipIndent = indent
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func TestWriteSourcesTwentyViews(t *testing.T) {
	path := copyProject(t, "twenty.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Views) != 20 {
		t.Fatalf("got %d views, want 20", len(cfg.Views))
	}
	sources := map[string][]string{}
	for i, v := range cfg.Views {
		switch i % 4 {
		case 0:
			sources[v.Name] = []string{"public.orders", "public.customers", "public.orders"}
		case 1:
			sources[v.Name] = nil
		case 2:
			sources[v.Name] = []string{"view_01"}
		case 3:
			sources[v.Name] = []string{"public.z", "public.a", "true"}
		}
	}
	if err := cfg.WriteSources(sources); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckGolden(t, filepath.Join("testdata", "config", "twenty.sources.golden"), got)
	if diff := cmp.Diff(stripSources(string(orig)), stripSources(string(got))); diff != "" {
		t.Errorf("write-back changed more than the sources lists (-before +after):\n%s", diff)
	}
	// The in-memory config now reflects the file.
	v3, _ := cfg.View("view_04")
	if diff := cmp.Diff([]string{"public.a", "public.z", "true"}, v3.Sources); diff != "" {
		t.Errorf("view_04 sources after write (-want +got):\n%s", diff)
	}
	// A second identical write is a no-op: the file is not replaced.
	before, _ := os.Stat(path)
	if err := cfg.WriteSources(sources); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Errorf("unchanged WriteSources rewrote the file")
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings = %q, want none (x-owner_team and x-owner are the user's own keys)", cfg.Warnings)
	}
	_ = time.Second
	_ = errors.Is
}

// writeProject writes a materialize.yaml with body plus the given files into a temp dir and
// returns the YAML's path.
func writeProject(t *testing.T, body string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "materialize.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const okSQL = "SELECT 1 AS n\n"

func view(name string) string {
	return "  - name: " + name + "\n    sql_file: materialize/a.sql\n    description: d\n"
}

func TestLoadConfigErrors(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name  string
		yaml  string
		files map[string]string
		want  string // exact text; {path} = the YAML path, {dir} = its directory
	}{
		{"parse error", "version: 1\nviews: [\n", nil,
			"failed to parse {path}: yaml: line 2: did not find expected node content"},
		{"two documents", "version: 1\n---\nversion: 1\n", nil,
			"failed to parse {path}: line 2: a second YAML document starts here; keep one document per file"},
		{"empty file", "", nil,
			"invalid config {path}: line 1: the file is empty; it needs `version: 1`, `target_schema` and `views` (run `agent-mv init` for a template)"},
		{"comments only", "# nothing\n", nil,
			"invalid config {path}: line 1: the file is empty; it needs `version: 1`, `target_schema` and `views` (run `agent-mv init` for a template)"},
		{"top level list", "- 1\n", nil,
			"invalid config {path}: line 1: the top level must be a mapping with version, target_schema and views, got a list"},
		{"version missing", "target_schema: s\nviews: []\n", nil,
			"unsupported version in {path}: line 1: version is required and must be 1 (add `version: 1`)"},
		{"version 2", "version: 2\ntarget_schema: s\nviews: []\n", nil,
			"unsupported version in {path}: line 1: version must be 1, got 2; this agentmv reads version 1 files only"},
		{"version string", "version: \"1\"\ntarget_schema: s\nviews: []\n", nil,
			"unsupported version in {path}: line 1: version must be the integer 1, got str \"1\""},
		{"version wins over other problems", "version: 3\nviews: x\n", nil,
			"unsupported version in {path}: line 1: version must be 1, got 3; this agentmv reads version 1 files only"},
		{"duplicate view names", "version: 1\ntarget_schema: s\nviews:\n" + view("a") + view("b") + view("a"), map[string]string{"materialize/a.sql": okSQL},
			"duplicate view names in {path}: line 10: view \"a\" is already defined at line 4; view names must be unique"},
		{"target_schema missing", "version: 1\nviews: []\n", nil,
			"invalid config {path}: line 1: target_schema is required (add `target_schema: agent_mv`)"},
		{"views missing", "version: 1\ntarget_schema: s\n", nil,
			"invalid config {path}: line 1: views is required (use `views: []` for none)"},
		{"views null", "version: 1\ntarget_schema: s\nviews:\n", nil,
			"invalid config {path}: line 3: views must be a list of views, got null (use `views: []` for none)"},
		{"view not a mapping", "version: 1\ntarget_schema: s\nviews:\n  - a\n", nil,
			"invalid config {path}: line 4: views[0] must be a mapping with name, sql_file and description, got str \"a\""},
		{"missing keys", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n", nil,
			"invalid config {path}:\n  line 4: view \"a\": sql_file is required (e.g. materialize/<name>.sql)\n  line 4: view \"a\": description is required (agents read it to pick the view)"},
		{"missing name", "version: 1\ntarget_schema: s\nviews:\n  - sql_file: a.sql\n    description: d\n", nil,
			"invalid config {path}: line 4: views[0]: name is required"},
		{"description not a string", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: 2024\n", nil,
			"invalid config {path}: line 6: view \"a\": description must be a string, got int \"2024\" (quote it if it looks like a number or boolean)"},
		{"empty sql_file", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: ''\n    description: d\n", nil,
			"invalid config {path}: line 5: view \"a\": sql_file must not be empty"},
		{"duplicate key", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    description: e\n", nil,
			"invalid config {path}: line 7: key \"description\" appears twice in view \"a\" (first at line 6)"},
		{"sources not a list", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    sources: public.t\n", nil,
			"invalid config {path}: line 7: view \"a\": sources must be a list of strings, got str \"public.t\" (apply owns this key; delete it and re-run apply)"},
		{"bad duration", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    min_refresh_interval: 5 minutes\n", nil,
			"invalid config {path}: line 7: view \"a\": min_refresh_interval must be a positive Go duration such as \"90s\", \"5m\", \"1h30m\" or \"1d\", got \"5 minutes\""},
		{"negative duration", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    max_staleness: -5m\n", nil,
			"invalid config {path}: line 7: view \"a\": max_staleness must be a positive Go duration such as \"90s\", \"5m\", \"1h30m\" or \"1d\", got \"-5m\""},
		{"staleness below interval", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    min_refresh_interval: 1h\n    max_staleness: 5m\n", nil,
			"invalid config {path}: line 4: view \"a\": max_staleness (5m0s) is shorter than min_refresh_interval (1h0m0s), so the view could never be fresh"},
		{"refresh_every below 1s", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    refresh_every: 500ms\n", nil,
			"invalid config {path}: line 7: view \"a\": refresh_every must be at least 1s, got 500ms"},
		{"refresh_every not a duration", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    refresh_every: daily\n", nil,
			"invalid config {path}: line 7: view \"a\": refresh_every must be a positive Go duration such as \"90s\", \"5m\", \"1h30m\" or \"1d\", got \"daily\""},
		{"refresh_every below min_refresh_interval", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    min_refresh_interval: 1h\n    refresh_every: 5m\n", nil,
			"invalid config {path}: line 4: view \"a\": refresh_every (5m0s) is shorter than min_refresh_interval (1h0m0s): refresh_view would refuse most scheduled refreshes; raise refresh_every or lower min_refresh_interval"},
		{"unknown scheduler", "version: 1\ntarget_schema: s\nscheduler: cron\nviews: []\n", nil,
			"invalid config {path}: line 3: scheduler must be \"serve\" (agent-mv serve refreshes scheduled views) or \"pg_cron\" (the database's pg_cron does), got \"cron\""},
		{"pg_cron cannot express 7m", "version: 1\ntarget_schema: s\nscheduler: pg_cron\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    refresh_every: 7m\n", nil,
			"invalid config {path}: line 5: view \"a\": refresh_every: pg_cron cannot run a job every 7m0s: use whole seconds from 1s to 59s, minutes dividing an hour (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m), hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h), 1d or 7d (or remove `scheduler: pg_cron` and run agent-mv serve, which takes any interval)"},
		{"indexes not a list", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes: {columns: [x]}\n", nil,
			"invalid config {path}: line 7: view \"a\": indexes must be a list of {columns: [...], unique: bool}, got a mapping"},
		{"index not a mapping", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes: [x]\n", nil,
			"invalid config {path}: line 7: view \"a\": indexes[0] must be a mapping with columns and unique, got str \"x\""},
		{"index without columns", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes:\n      - unique: true\n", nil,
			"invalid config {path}: line 8: view \"a\": indexes[0]: columns is required (a list of at least one column)"},
		{"index columns empty", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: []\n", nil,
			"invalid config {path}: line 8: view \"a\": indexes[0]: columns must be a list of at least one column name, got a list"},
		{"index column twice", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: [x, x]\n", nil,
			"invalid config {path}: line 8: view \"a\": indexes[0]: column \"x\" is listed twice"},
		{"unique not bool", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: [x]\n        unique: 'yes'\n", nil,
			"invalid config {path}: line 9: view \"a\": indexes[0]: unique must be true or false, got str \"yes\""},
		{"index name too long", "version: 1\ntarget_schema: s\nviews:\n  - name: " + strings.Repeat("v", 40) + "\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: [" + strings.Repeat("c", 20) + "]\n", nil,
			"invalid config {path}: line 4: view \"" + strings.Repeat("v", 40) + "\": indexes[0]: index name \"" + strings.Repeat("v", 40) + "_" + strings.Repeat("c", 20) + "_idx\" is 65 bytes; Postgres truncates names to 63 bytes, so use fewer or shorter columns or a shorter view name"},
		{"index names collide across views", "version: 1\ntarget_schema: s\nviews:\n  - name: a_b\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: [c]\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: [b_c]\n", nil,
			"invalid config {path}: line 9: view \"a\": indexes[0]: index name \"a_b_c_idx\" collides with index \"a_b_c_idx\" of view \"a_b\" (line 4); indexes and views share the schema's namespace"},
		{"index name collides with a view", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: [x]\n  - name: a_x_idx\n    sql_file: a.sql\n    description: d\n", nil,
			"invalid config {path}: line 4: view \"a\": indexes[0]: index name \"a_x_idx\" collides with view \"a_x_idx\" (line 9); indexes and views share the schema's namespace"},
		{"same index twice in one view", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: [x]\n      - columns: [x]\n        unique: true\n", nil,
			"invalid config {path}: line 4: view \"a\": indexes[1]: index name \"a_x_idx\" collides with index \"a_x_idx\" of view \"a\" (line 4); indexes and views share the schema's namespace"},
		{"sql_file not found", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: materialize/a.sql\n    description: d\n", nil,
			"sql_file not found for view 'a': {dir}/materialize/a.sql ({path} line 4); create the file or fix sql_file (paths are relative to the YAML file)"},
		{"sql_file is a directory", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: materialize\n    description: d\n", map[string]string{"materialize/x.sql": okSQL},
			"invalid sql_file for view 'a': {dir}/materialize: is a directory, not a SQL file ({path} line 4)"},
		{"sql not utf-8", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n", map[string]string{"a.sql": "SELECT '\xff'"},
			"invalid sql_file for view 'a': {dir}/a.sql: not valid UTF-8; save it as UTF-8 ({path} line 4)"},
		{"sql with NUL", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n", map[string]string{"a.sql": "SELECT '\x00'"},
			"invalid sql_file for view 'a': {dir}/a.sql: contains a NUL byte, which Postgres does not accept in SQL text ({path} line 4)"},
		{"sql only comments", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n", map[string]string{"a.sql": "-- todo\n/* later /* nested */ */\n ;\n"},
			"invalid sql_file for view 'a': {dir}/a.sql: has no SQL, only comments and whitespace; put the view's SELECT in it ({path} line 4)"},
		{"sql too large", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n", map[string]string{"a.sql": "SELECT 1" + strings.Repeat(" ", MaxSQLFileBytes)},
			"invalid sql_file for view 'a': {dir}/a.sql: larger than 1048576 bytes (1 MiB); a view body should be one SELECT ({path} line 4)"},
		{"several problems", "version: 1\ntarget_schema: S\nviews:\n  - name: Bad\n    sql_file: a.sql\n    description: d\n", nil,
			"invalid config {path}:\n  line 2: target_schema \"S\" must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits and _, not starting with a digit)\n  line 4: view name \"Bad\" must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits and _, not starting with a digit)"},
		{"typo in a view key drops nothing silently", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexs:\n      - columns: [x]\n        unique: true\n", nil,
			"invalid config {path}: line 7: unknown key \"indexs\" in view \"a\"; did you mean \"indexes\"? (the keys there are name, sql_file, description, columns, indexes, sources, sql, min_refresh_interval, max_staleness, refresh_lock_timeout, refresh_every, refresh_strategy, incremental_threshold)"},
		{"unknown refresh strategy", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    refresh_strategy: delta\n", nil,
			"invalid config {path}: line 7: view \"a\": refresh_strategy must be full or incremental, got \"delta\""},
		{"threshold out of range", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    refresh_strategy: incremental\n    incremental_threshold: 150%\n", nil,
			"invalid config {path}: line 8: view \"a\": incremental_threshold must be a share of the base rows between 0 and 1, such as 0.2 or \"20%\", got \"150%\""},
		{"threshold without incremental", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    incremental_threshold: 0.2\n", nil,
			"invalid config {path}: line 4: view \"a\": incremental_threshold applies only to refresh_strategy: incremental; add that or remove the threshold"},
		{"typo in an index key", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: [x]\n        unqiue: true\n", nil,
			"invalid config {path}: line 9: unknown key \"unqiue\" in view \"a\": indexes[0]; did you mean \"unique\"? (the keys there are columns, unique)"},
		{"unknown top-level key", "version: 1\ntarget_schema: s\nowner_team: data\nviews: []\n", nil,
			"invalid config {path}: line 3: unknown key \"owner_team\" in the top level; the keys there are version, target_schema, scheduler, views, refresh_lock_timeout, runtime_role, public_privileges, agents, tools, and keys of your own must start with x- (e.g. x-owner_team)"},
		{"typo in a top-level key", "version: 1\ntarget_shema: s\nviews: []\n", nil,
			"invalid config {path}:\n  line 2: unknown key \"target_shema\" in the top level; did you mean \"target_schema\"? (the keys there are version, target_schema, scheduler, views, refresh_lock_timeout, runtime_role, public_privileges, agents, tools)\n  line 1: target_schema is required (add `target_schema: agent_mv`)"},
		{"columns not a mapping", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    columns: [revenue]\n", nil,
			"invalid config {path}: line 7: view \"a\": columns must be a mapping from column name to a one-line description (e.g. `revenue: Sum of paid order totals, in euros`), got a list"},
		{"column description empty", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    columns:\n      revenue: '  '\n", nil,
			"invalid config {path}: line 8: view \"a\": columns: revenue has an empty description; say in a few words what the column means (unit, currency, time zone), or remove the entry"},
		{"column description on two lines", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    columns:\n      revenue: |\n        euros\n        paid only\n", nil,
			"invalid config {path}: line 8: view \"a\": columns: revenue must be described in one line (the view's description can say more)"},
		{"column description not a string", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    columns:\n      revenue: 12\n", nil,
			"invalid config {path}: line 8: view \"a\": columns: revenue must be a string, got int \"12\" (quote it if it looks like a number or boolean)"},
		{"column listed twice", "version: 1\ntarget_schema: s\nviews:\n  - name: a\n    sql_file: a.sql\n    description: d\n    columns:\n      revenue: euros\n      revenue: dollars\n", nil,
			"invalid config {path}: line 9: key \"revenue\" appears twice in view \"a\": columns (first at line 8)"},
		{"view name too long", "version: 1\ntarget_schema: s\nviews:\n  - name: " + long + "\n    sql_file: a.sql\n    description: d\n", nil,
			"invalid config {path}: line 4: view name \"" + long + "\" is 64 bytes; Postgres identifiers are at most 63 bytes (it would silently truncate it), use a shorter name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeProject(t, tt.yaml, tt.files)
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("LoadConfig succeeded, want an error")
			}
			want := strings.NewReplacer("{path}", path, "{dir}", filepath.Dir(path)).Replace(tt.want)
			if err.Error() != want {
				t.Errorf("error mismatch\n got: %s\nwant: %s", err, want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error is %T, want *ConfigError", err)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "materialize.yaml")
	_, err := LoadConfig(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want one wrapping fs.ErrNotExist", err)
	}
	want := "materialize.yaml not found at " + path + ". Run `agent-mv init` first."
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
	// A file named by --config that is not there is more likely a typo than a missing project.
	other := filepath.Join(dir, "materialise.yml")
	_, err = LoadConfig(other)
	want = "materialise.yml not found at " + other + ". Check the --config path, or run `agent-mv init` to create a materialize.yaml."
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != want {
		t.Errorf("got %v\nwant %q (wrapping fs.ErrNotExist)", err, want)
	}
	// sql_file not found wraps fs.ErrNotExist too.
	p := writeProject(t, "version: 1\ntarget_schema: s\nviews:\n"+view("a"), nil)
	if _, err := LoadConfig(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing sql_file: err = %v, want fs.ErrNotExist", err)
	}
}

func TestNameRules(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"orders", true},
		{"_private", true},
		{"daily_revenue_2024", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"Orders", false},
		{"1orders", false},
		{"order-items", false},
		{"order items", false},
		{"café", false},
		{"orders;drop", false},
		{`"quoted"`, false},
	}
	for _, tt := range tests {
		for _, kind := range []string{"view name", "index column", "target_schema"} {
			// View names, index columns and target_schema all go through the YAML loader.
			var body string
			switch kind {
			case "view name":
				body = "version: 1\ntarget_schema: s\nviews:\n  - name: '" + tt.name + "'\n    sql_file: a.sql\n    description: d\n"
			case "index column":
				body = "version: 1\ntarget_schema: s\nviews:\n  - name: v\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: ['" + tt.name + "']\n"
				if len(tt.name) > 50 && tt.ok {
					continue // the index name would be too long; covered by its own test
				}
			case "target_schema":
				body = "version: 1\ntarget_schema: '" + tt.name + "'\nviews: []\n"
			}
			path := writeProject(t, body, map[string]string{"a.sql": okSQL})
			_, err := LoadConfig(path)
			if tt.ok && err != nil {
				t.Errorf("%s %q: unexpected error %v", kind, tt.name, err)
			}
			if !tt.ok && (err == nil || !strings.HasPrefix(err.Error(), "invalid config ")) {
				t.Errorf("%s %q: err = %v, want invalid config", kind, tt.name, err)
			}
			if err := boundary.ValidateIdentifier(kind, tt.name); (err == nil) != tt.ok {
				t.Errorf("ValidateIdentifier(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
		}
	}
}

func TestReservedNames(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"version: 1\ntarget_schema: s\nviews:\n" + view("pg_orders"),
			"line 4: view name \"pg_orders\" must not start with pg_ (pg_catalog comes first on the search path, so agents would read a system catalog instead)"},
		{"version: 1\ntarget_schema: s\nviews:\n" + view("lineage"),
			"line 4: view name \"lineage\" is reserved: agentmv keeps its own table of that name in the target schema"},
		{"version: 1\ntarget_schema: s\nviews:\n" + view("refresh_history"),
			"line 4: view name \"refresh_history\" is reserved: agentmv keeps its own table of that name in the target schema"},
		{"version: 1\ntarget_schema: pg_mine\nviews: []\n",
			"line 2: target_schema \"pg_mine\" is not allowed: use a dedicated schema such as agent_mv (pg_* schemas are reserved by Postgres)"},
		{"version: 1\ntarget_schema: public\nviews: []\n",
			"line 2: target_schema \"public\" is not allowed: use a dedicated schema such as agent_mv (pg_* schemas are reserved by Postgres)"},
		{"version: 1\ntarget_schema: s\nviews:\n  - name: views\n    sql_file: materialize/a.sql\n    description: d\n",
			"line 4: view name \"views\" is reserved: agentmv keeps its own table of that name in the target schema"},
	}
	for _, tt := range tests {
		path := writeProject(t, tt.yaml, map[string]string{"materialize/a.sql": okSQL})
		_, err := LoadConfig(path)
		want := "invalid config " + path + ": " + tt.want
		if err == nil || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
	}
}

func TestLoadConfigValid(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "elsewhere", "abs.sql")
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(abs, []byte("/* c */ SELECT 2;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := `version: 1
target_schema: agent_mv
x-extra: 1
views:
  - name: daily_revenue
    sql_file: materialize/daily_revenue.sql
    description: Revenue per day and product.
    columns:
      day: Calendar day in UTC
      product_id: "Product, see products_mv "
    sql: ignored, the file wins
    indexes:
      - columns: [day, product_id]
        unique: true
        x-method: btree
    sources: [public.orders]
    min_refresh_interval: 5m
    max_staleness: 1h30m
    refresh_every: 1d
    x-owner: finance
  - name: top
    sql_file: ` + abs + `
    description: "Top rows."
    refresh_strategy: incremental
    incremental_threshold: 20%
`
	path := writeProject(t, body, map[string]string{"materialize/daily_revenue.sql": "-- revenue\nSELECT 1 AS day, 2 AS product_id;\n"})
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		Path, Dir, Schema string
		Version           int
		Views             []ViewConfig
		Warnings          []string
	}{cfg.Path, cfg.Dir, cfg.TargetSchema, cfg.Version, cfg.Views, cfg.Warnings}
	want := struct {
		Path, Dir, Schema string
		Version           int
		Views             []ViewConfig
		Warnings          []string
	}{
		Path: path, Dir: filepath.Dir(path), Schema: "agent_mv", Version: 1,
		Views: []ViewConfig{{
			Name: "daily_revenue", SQLFile: "materialize/daily_revenue.sql",
			SQLPath: filepath.Join(filepath.Dir(path), "materialize", "daily_revenue.sql"),
			SQL:     "-- revenue\nSELECT 1 AS day, 2 AS product_id;\n", Description: "Revenue per day and product.",
			Columns: []ColumnDescription{{Column: "day", Description: "Calendar day in UTC"}, {Column: "product_id", Description: "Product, see products_mv"}},
			Indexes: []IndexConfig{{Columns: []string{"day", "product_id"}, Unique: true}},
			Sources: []string{"public.orders"}, MinRefreshInterval: 5 * time.Minute, MaxStaleness: 90 * time.Minute,
			RefreshEvery: 24 * time.Hour, Line: 5,
		}, {
			Name: "top", SQLFile: abs, SQLPath: abs, SQL: "/* c */ SELECT 2;\n", Description: "Top rows.", Line: 21,
			RefreshStrategy: "incremental", IncrementalThreshold: 0.2,
		}},
		// Keys starting with x- are the user's own: ignored, kept, no warning.
		Warnings: nil,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config mismatch (-want +got):\n%s", diff)
	}
	if n := cfg.Views[0].Indexes[0].Name("daily_revenue"); n != "daily_revenue_day_product_id_idx" {
		t.Errorf("index name = %q", n)
	}
	if _, ok := cfg.View("nope"); ok {
		t.Error("View(nope) found something")
	}
}

func TestSQLIsBlank(t *testing.T) {
	tests := map[string]bool{
		"":                             true,
		" \n\t;;":                      true,
		"-- only":                      true,
		"/* a /* b */ c */":            true,
		"/* unterminated":              true,
		"-- x\nSELECT 1":               false,
		"/* a */ SELECT 1":             false,
		"'--'":                         false,
		"/* a /* b */ */ -- c\n1":      false,
		"WITH x AS (SELECT 1) TABLE x": false,
	}
	for sql, want := range tests {
		if got := sqlIsBlank(sql); got != want {
			t.Errorf("sqlIsBlank(%q) = %v, want %v", sql, got, want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", 90 * time.Second: "1m30s", time.Hour: "1h", 90 * time.Minute: "1h30m", 2 * time.Second: "2s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Errorf("FormatDuration(%v) does not parse back: %v %v", d, back, err)
		}
	}
}

const threeViews = `# project
version: 1
target_schema: agent_mv
views:
  # first view
  - name: a   # the a view
    sql_file: materialize/a.sql
    description: "A view"
    sources: [public.t]

  # second view
  - name: b
    sql_file: materialize/a.sql
    description: 'B view'
    indexes:
      - columns: [id]
        unique: true

  - name: c
    sql_file: materialize/a.sql
    description: >-
      C view,
      folded.
# footer
`

func TestRemoveView(t *testing.T) {
	tests := []struct {
		remove []string
		want   string
	}{
		{[]string{"b"}, `# project
version: 1
target_schema: agent_mv
views:
  # first view
  - name: a   # the a view
    sql_file: materialize/a.sql
    description: "A view"
    sources: [public.t]

  - name: c
    sql_file: materialize/a.sql
    description: >-
      C view,
      folded.
# footer
`},
		{[]string{"c"}, `# project
version: 1
target_schema: agent_mv
views:
  # first view
  - name: a   # the a view
    sql_file: materialize/a.sql
    description: "A view"
    sources: [public.t]

  # second view
  - name: b
    sql_file: materialize/a.sql
    description: 'B view'
    indexes:
      - columns: [id]
        unique: true

# footer
`},
		{[]string{"a", "c", "b"}, `# project
version: 1
target_schema: agent_mv
views: []

# footer
`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.remove, ","), func(t *testing.T) {
			path := writeProject(t, threeViews, map[string]string{"materialize/a.sql": okSQL})
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range tt.remove {
				if err := cfg.RemoveView(name); err != nil {
					t.Fatalf("RemoveView(%s): %v", name, err)
				}
				if _, ok := cfg.View(name); ok {
					t.Errorf("view %s still in the config after RemoveView", name)
				}
			}
			if diff := cmp.Diff(tt.want, string(testutil.ReadFile(t, path))); diff != "" {
				t.Errorf("file after RemoveView (-want +got):\n%s", diff)
			}
		})
	}
	path := writeProject(t, threeViews, map[string]string{"materialize/a.sql": okSQL})
	cfg, _ := LoadConfig(path)
	if err := cfg.RemoveView("zzz"); err == nil || err.Error() != `remove view: view "zzz" is not in `+path {
		t.Errorf("RemoveView(unknown) = %v", err)
	}
	if string(testutil.ReadFile(t, path)) != threeViews {
		t.Error("a failed RemoveView changed the file")
	}
}

func TestAddViews(t *testing.T) {
	files := map[string]string{"materialize/a.sql": okSQL, "materialize/new_one.sql": okSQL, "materialize/new_two.sql": okSQL}
	newViews := []ViewConfig{
		{Name: "new_one", SQLFile: "materialize/new_one.sql", Description: "First new view: it's \"quoted\"",
			Indexes: []IndexConfig{{Columns: []string{"id"}, Unique: true}}, MinRefreshInterval: 5 * time.Minute},
		{Name: "new_two", SQLFile: "materialize/new_two.sql", Description: "Line one\nline two",
			Columns: []ColumnDescription{{Column: "id", Description: "Order id: #1, the \"first\""}}},
	}
	t.Run("to a list", func(t *testing.T) {
		path := writeProject(t, threeViews, files)
		cfg, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.AddViews(newViews...); err != nil {
			t.Fatal(err)
		}
		testutil.CheckGolden(t, filepath.Join("testdata", "config", "addviews.list.golden"), testutil.ReadFile(t, path))
		got := string(testutil.ReadFile(t, path))
		if !strings.HasPrefix(got, strings.TrimSuffix(threeViews, "# footer\n")) {
			t.Errorf("AddViews changed the existing text:\n%s", got)
		}
		if len(cfg.Views) != 5 || cfg.Views[3].Name != "new_one" || cfg.Views[3].MinRefreshInterval != 5*time.Minute || cfg.Views[4].Description != "Line one\nline two" ||
			!reflect.DeepEqual(cfg.Views[4].Columns, newViews[1].Columns) {
			t.Errorf("views after AddViews: %+v", cfg.Views)
		}
	})
	t.Run("to an empty list", func(t *testing.T) {
		path := writeProject(t, "version: 1\ntarget_schema: agent_mv\nviews: []   # none yet\n", files)
		cfg, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.AddViews(newViews...); err != nil {
			t.Fatal(err)
		}
		testutil.CheckGolden(t, filepath.Join("testdata", "config", "addviews.empty.golden"), testutil.ReadFile(t, path))
		if len(cfg.Views) != 2 {
			t.Errorf("got %d views", len(cfg.Views))
		}
	})
	errCases := []struct {
		name string
		v    ViewConfig
		want string
	}{
		{"duplicate", ViewConfig{Name: "b", SQLFile: "materialize/a.sql", Description: "d"},
			`add view: view "b" already exists in {path}; pick another name or remove the old view first`},
		{"bad name", ViewConfig{Name: "../x", SQLFile: "materialize/a.sql", Description: "d"},
			`add view: view name "../x" must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits and _, not starting with a digit)`},
		{"missing sql file", ViewConfig{Name: "ghost", SQLFile: "materialize/ghost.sql", Description: "d"},
			"write {path}: the edited file would not load, so it was left unchanged: sql_file not found for view 'ghost': {dir}/materialize/ghost.sql ({path} line 24); create the file or fix sql_file (paths are relative to the YAML file)"},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			path := writeProject(t, threeViews, files)
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.AddViews(tt.v)
			want := strings.NewReplacer("{path}", path, "{dir}", filepath.Dir(path)).Replace(tt.want)
			if err == nil || err.Error() != want {
				t.Errorf("got  %v\nwant %s", err, want)
			}
			if string(testutil.ReadFile(t, path)) != threeViews {
				t.Error("a failed AddViews changed the file")
			}
			if len(cfg.Views) != 3 {
				t.Error("a failed AddViews changed the in-memory config")
			}
		})
	}
}

func TestWriteSourcesEdgeCases(t *testing.T) {
	files := map[string]string{"a.sql": okSQL}
	tests := []struct {
		name, in, want string
		sources        map[string][]string
	}{
		{"null value gets a block list",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  sources:   # apply fills this\n",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  sources:   # apply fills this\n    - public.t\n",
			map[string][]string{"a": {"public.t"}}},
		{"explicit null becomes a flow list",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  sources: ~\n",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  sources: [public.t]\n",
			map[string][]string{"a": {"public.t"}}},
		{"block list emptied",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  sources:\n  - public.t\n  - public.u\n# end\n",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  sources: []\n# end\n",
			map[string][]string{"a": {}}},
		{"PyYAML layout keeps its indentation",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  indexes:\n  - columns:\n    - id\n    unique: true\n- name: b\n  sql_file: a.sql\n  description: d\n",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  indexes:\n  - columns:\n    - id\n    unique: true\n  sources:\n  - public.t\n- name: b\n  sql_file: a.sql\n  description: d\n",
			map[string][]string{"a": {"public.t"}, "b": nil}},
		{"single-quoted items stay single-quoted",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  sources: ['public.t']\n",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  sources: ['public.t', 'public.u']\n",
			map[string][]string{"a": {"public.u", "public.t"}}},
		{"no trailing newline",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d",
			"version: 1\ntarget_schema: s\nviews:\n- name: a\n  sql_file: a.sql\n  description: d\n  sources:\n    - public.t",
			map[string][]string{"a": {"public.t"}}},
		{"flow-style view falls back to re-encoding",
			"# keep me\nversion: 1\ntarget_schema: s\nviews:\n  - {name: a, sql_file: a.sql, description: \"d\"}\n",
			"# keep me\nversion: 1\ntarget_schema: s\nviews:\n  - {name: a, sql_file: a.sql, description: \"d\", sources: [public.t]}\n",
			map[string][]string{"a": {"public.t"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeProject(t, tt.in, files)
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.WriteSources(tt.sources); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(testutil.ReadFile(t, path))); diff != "" {
				t.Errorf("file (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteSourcesSafety(t *testing.T) {
	body := "version: 1\ntarget_schema: s\nviews:\n" + view("a")
	files := map[string]string{"materialize/a.sql": okSQL}

	t.Run("unknown view", func(t *testing.T) {
		path := writeProject(t, body, files)
		cfg, _ := LoadConfig(path)
		err := cfg.WriteSources(map[string][]string{"zzz": {"x"}})
		if want := `write sources: view "zzz" is not in ` + path + "; reload the config and retry"; err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	})
	t.Run("changed on disk", func(t *testing.T) {
		path := writeProject(t, body, files)
		cfg, _ := LoadConfig(path)
		edited := body + "# edited by a human meanwhile\n"
		if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		err := cfg.WriteSources(map[string][]string{"a": {"public.t"}})
		if want := "write " + path + ": the file changed on disk since it was loaded; nothing written, reload it and retry"; err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
		if string(testutil.ReadFile(t, path)) != edited {
			t.Error("the human's edit was overwritten")
		}
	})
	t.Run("mode and symlink kept, no temp files left", func(t *testing.T) {
		path := writeProject(t, body, files)
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(filepath.Dir(path), "link.yaml")
		if err := os.Symlink("materialize.yaml", link); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(link)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.WriteSources(map[string][]string{"a": {"public.t"}}); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("the symlink was replaced: %v %v", st.Mode(), err)
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v, want 0600", st.Mode().Perm())
		}
		if !strings.Contains(string(testutil.ReadFile(t, path)), "sources:\n      - public.t") {
			t.Errorf("sources not written:\n%s", string(testutil.ReadFile(t, path)))
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temp file left behind: %s", e.Name())
			}
		}
	})
}

func TestWriteSourcesNoChangeNoWrite(t *testing.T) {
	body := "version: 1\ntarget_schema: s\nviews:\n" + view("a") + view("b") + "    sources:\n" + view("c") + "    sources: [x, y]\n"
	path := writeProject(t, body, map[string]string{"materialize/a.sql": okSQL})
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// a: absent = empty; b: null = empty; c: same set in another order.
	if err := cfg.WriteSources(map[string][]string{"a": nil, "b": {}, "c": {"y", "x", "y"}}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || string(testutil.ReadFile(t, path)) != body {
		t.Error("a no-op WriteSources replaced the file")
	}
}

func BenchmarkLoadConfigTwenty(b *testing.B) {
	path := filepath.Join("testdata", "config", "project", "twenty.yaml")
	for b.Loop() {
		if _, err := LoadConfig(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteSourcesTwenty(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join("testdata", "config", "project")
	if err := os.MkdirAll(filepath.Join(dir, "materialize"), 0o755); err != nil {
		b.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(src, "materialize"))
	if err != nil || len(entries) == 0 {
		b.Fatalf("read %s: %d entries, %v", src, len(entries), err)
	}
	for _, e := range entries {
		data := testutil.ReadFile(b, filepath.Join(src, "materialize", e.Name()))
		if err := os.WriteFile(filepath.Join(dir, "materialize", e.Name()), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	orig := testutil.ReadFile(b, filepath.Join(src, "twenty.yaml"))
	path := filepath.Join(dir, "twenty.yaml")
	for b.Loop() {
		b.StopTimer()
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			b.Fatal(err)
		}
		cfg, err := LoadConfig(path)
		if err != nil {
			b.Fatal(err)
		}
		sources := map[string][]string{}
		for _, v := range cfg.Views {
			sources[v.Name] = []string{"public.a", "public.b"}
		}
		b.StartTimer()
		if err := cfg.WriteSources(sources); err != nil {
			b.Fatal(err)
		}
	}
}

func TestIndexNameCollidesWithOwnObjects(t *testing.T) {
	body := "version: 1\ntarget_schema: s\nviews:\n  - name: refresh_history_view_name\n    sql_file: a.sql\n    description: d\n    indexes:\n      - columns: [started_at]\n"
	path := writeProject(t, body, map[string]string{"a.sql": okSQL})
	_, err := LoadConfig(path)
	want := "invalid config " + path + ": line 4: view \"refresh_history_view_name\": indexes[0]: index name \"refresh_history_view_name_started_at_idx\" collides with agentmv's own object of that name"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// TestRefreshLockTimeoutKey: refresh_lock_timeout at the top level is the default of every
// view; a view's own value wins; it must be a positive duration.
func TestRefreshLockTimeoutKey(t *testing.T) {
	body := "version: 1\ntarget_schema: s\nviews:\n" + view("a") + view("b") + "    refresh_lock_timeout: 30s\nrefresh_lock_timeout: 2s\n"
	cfg, err := LoadConfig(writeProject(t, body, map[string]string{"materialize/a.sql": okSQL}))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := cfg.View("a")
	b, _ := cfg.View("b")
	if cfg.RefreshLockTimeout != 2*time.Second || a.RefreshLockTimeout != 2*time.Second || b.RefreshLockTimeout != 30*time.Second {
		t.Errorf("top %s, a %s, b %s; want 2s, 2s (inherited), 30s", cfg.RefreshLockTimeout, a.RefreshLockTimeout, b.RefreshLockTimeout)
	}
	cfg, err = LoadConfig(writeProject(t, "version: 1\ntarget_schema: s\nviews:\n"+view("a"), map[string]string{"materialize/a.sql": okSQL}))
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := cfg.View("a"); a.RefreshLockTimeout != 0 {
		t.Errorf("unset: %s, want 0 (the function's default)", a.RefreshLockTimeout)
	}
	_, err = LoadConfig(writeProject(t, "version: 1\ntarget_schema: s\nrefresh_lock_timeout: forever\nviews: []\n", nil))
	if err == nil || !strings.Contains(err.Error(), `line 3: refresh_lock_timeout must be a positive Go duration such as "90s", "5m", "1h30m" or "1d", got "forever"`) {
		t.Errorf("bad value: %v", err)
	}
}

// TestParseDuration: Go durations, plus a leading number of days.
func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1s": time.Second, "90s": 90 * time.Second, "1h30m": 90 * time.Minute,
		"1d": 24 * time.Hour, "2d12h": 60 * time.Hour, "7d": 7 * 24 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "1.5d", "-1d", "1d-5h", "xd", "1dd", "5 minutes"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %s, want an error", bad, d)
		}
	}
}

// Setup's finalize step writes a view and the tool proposed with it in one write: the tool goes
// under tools: (created when missing) and must pass the check every tool of the file passes.
func TestAddViewsWithTools(t *testing.T) {
	files := map[string]string{"materialize/a.sql": okSQL, "materialize/new_one.sql": okSQL}
	view := ViewConfig{Name: "new_one", SQLFile: "materialize/new_one.sql", Description: "New"}
	min := 1.0
	tool := tools.ToolSpec{Name: "by_id", Description: "One row by id",
		SQL: "SELECT *\n  FROM agent_mv.new_one\n WHERE id = @id",
		Parameters: []tools.ParamSpec{{Name: "id", Type: "integer", Description: "The id", Required: true, Min: &min},
			{Name: "unused_kind", Type: "string", Enum: []any{"a", "b"}, Default: "a"}}}
	tool.SQL += " AND @unused_kind IS NOT NULL"
	for _, base := range []string{threeViews, threeViews + "tools: []\n"} {
		path := writeProject(t, base, files)
		cfg, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.AddViewsWithTools([]ViewConfig{view}, []tools.ToolSpec{tool}); err != nil {
			t.Fatal(err)
		}
		got := string(testutil.ReadFile(t, path))
		if !strings.HasPrefix(got, strings.Split(base, "# footer")[0]) || !strings.Contains(got, "# footer") {
			t.Errorf("the existing text changed:\n%s", got)
		}
		re, err := LoadConfig(path)
		if err != nil {
			t.Fatalf("written file does not load: %v\n%s", err, got)
		}
		if len(re.Tools) != 1 || re.Tools[0].Name != "by_id" || !reflect.DeepEqual(re.Tools[0].Reads, []string{"new_one"}) ||
			len(re.Tools[0].Parameters) != 2 || *re.Tools[0].Parameters[0].Min != 1 || !re.Tools[0].Parameters[0].Required {
			t.Errorf("tools after write: %+v\n%s", re.Tools, got)
		}
	}
	// A tool over a base table is refused by the file's own check; nothing is written.
	path := writeProject(t, threeViews, files)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := tools.ToolSpec{Name: "raw", Description: "d", SQL: "SELECT * FROM public.orders"}
	if err := cfg.AddViewsWithTools([]ViewConfig{view}, []tools.ToolSpec{bad}); err == nil || !strings.Contains(err.Error(), `tool "raw"`) {
		t.Errorf("tool over a base table: %v", err)
	}
	if string(testutil.ReadFile(t, path)) != threeViews || len(cfg.Views) != 3 {
		t.Error("a refused AddViewsWithTools changed the file or the config")
	}
}
