package reliability_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/internal/testutil"
)

const badSeed = `
CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, amount int NOT NULL);
INSERT INTO t SELECT i, 'n' || (i % 7), i * 3 FROM generate_series(1, 100) i;
`

const badYAML = `# reliability: bad-input base project
version: 1
target_schema: agent_mv
views:
  - name: a
    sql_file: materialize/a.sql
    description: rows of t
    indexes:
      - columns: [id]
        unique: true
  - name: b
    sql_file: materialize/b.sql
    description: totals per name
`

const (
	badA = "SELECT id, name, amount FROM public.t\n"
	badB = "SELECT name, sum(amount) AS total FROM agent_mv.a GROUP BY name\n"
)

// badCase is one broken input: edit breaks the project's files, want are substrings the
// error must contain (the file, field or line it names).
type badCase struct {
	name string
	edit func(pr *project)
	want []string
}

// yamlEdit replaces old with new in materialize.yaml (old must occur).
func yamlEdit(old, new string) func(*project) {
	return func(pr *project) {
		y := string(pr.read("materialize.yaml"))
		if !strings.Contains(y, old) {
			pr.t.Fatalf("materialize.yaml has no %q:\n%s", old, y)
		}
		pr.write("materialize.yaml", strings.Replace(y, old, new, 1))
	}
}

// yamlFile replaces materialize.yaml.
func yamlFile(content string) func(*project) {
	return func(pr *project) { pr.write("materialize.yaml", content) }
}

// sqlFile replaces a SQL file.
func sqlFile(name, content string) func(*project) {
	return func(pr *project) { pr.write("materialize/"+name, content) }
}

// addView appends a third view called name, reading materialize/c.sql (a valid SELECT), so
// that the name is the only thing wrong.
func addView(name string) func(*project) {
	return func(pr *project) {
		pr.write("materialize/c.sql", "SELECT id FROM public.t\n")
		y := string(pr.read("materialize.yaml"))
		pr.write("materialize.yaml", y+fmt.Sprintf("  - name: %q\n    sql_file: materialize/c.sql\n    description: the third view\n", name))
	}
}

// replaceViewB replaces view b's item (the last one) with item.
func replaceViewB(item string) func(*project) {
	return func(pr *project) {
		y := string(pr.read("materialize.yaml"))
		i := strings.Index(y, "  - name: b\n")
		if i < 0 {
			pr.t.Fatalf("no view b in:\n%s", y)
		}
		pr.write("materialize.yaml", y[:i]+item)
	}
}

var badCases = []badCase{
	// YAML structure and types
	{"yaml_empty_file", yamlFile(""), []string{"materialize.yaml"}},
	{"yaml_binary", yamlFile("\x00\x01\x02\xff\xfe binary \x00 garbage\x7f"), []string{"materialize.yaml"}},
	{"yaml_not_utf8", yamlEdit("rows of t", "rows of \xff\xfe t"), []string{"materialize.yaml"}},
	// yaml.v3 reports a tab on line 7 as "line 6".
	{"yaml_tab_indent", yamlEdit("    description: rows of t", "\tdescription: rows of t"), []string{"materialize.yaml", "tab character"}},
	{"yaml_syntax_unclosed_flow", yamlEdit("columns: [id]", "columns: [id"), []string{"materialize.yaml", "line"}},
	{"yaml_top_level_list", yamlFile("- version: 1\n"), []string{"materialize.yaml"}},
	{"yaml_duplicate_key", yamlEdit("    description: rows of t\n", "    description: rows of t\n    description: again\n"), []string{"materialize.yaml", "description"}},
	{"yaml_duplicate_view", yamlEdit("- name: b\n", "- name: a\n"), []string{"materialize.yaml", "a"}},
	{"yaml_alias_bomb", yamlFile("version: 1\ntarget_schema: agent_mv\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\nviews: *h\n"), []string{"materialize.yaml"}},
	{"version_string", yamlEdit("version: 1", `version: "one"`), []string{"materialize.yaml", "version"}},
	{"version_unknown", yamlEdit("version: 1", "version: 7"), []string{"materialize.yaml", "version"}},
	{"version_missing", yamlEdit("version: 1\n", ""), []string{"materialize.yaml", "version"}},
	{"target_schema_pg_catalog", yamlEdit("target_schema: agent_mv", "target_schema: pg_catalog"), []string{"materialize.yaml", "target_schema"}},
	{"target_schema_bad_chars", yamlEdit("target_schema: agent_mv", `target_schema: "Agent MV"`), []string{"materialize.yaml", "target_schema"}},
	{"views_mapping", yamlEdit("views:\n", "views:\n  x: 1\nnot_views:\n"), []string{"materialize.yaml", "views"}},
	{"views_scalar", yamlFile("version: 1\ntarget_schema: agent_mv\nviews: lots\n"), []string{"materialize.yaml", "views"}},
	{"view_item_scalar", replaceViewB("  - b\n"), []string{"materialize.yaml", "line 13", "views[1]"}},
	{"view_item_null", replaceViewB("  -\n"), []string{"materialize.yaml", "views[1]"}},
	{"description_missing", yamlEdit("    description: totals per name\n", ""), []string{"materialize.yaml", "description", "b"}},
	{"description_list", yamlEdit("description: totals per name", "description: [a, b]"), []string{"materialize.yaml", "description"}},
	{"name_missing", yamlEdit("  - name: b\n", "  - \n"), []string{"materialize.yaml", "name"}},
	{"name_number", yamlEdit("- name: b\n", "- name: 42\n"), []string{"materialize.yaml", "42"}},
	{"name_unicode", addView("vüe"), []string{"materialize.yaml", "vüe"}},
	{"name_64_bytes", addView(strings.Repeat("x", 64)), []string{"materialize.yaml", strings.Repeat("x", 64), "63"}},
	{"name_path_traversal", addView("../x"), []string{"materialize.yaml", "../x"}},
	{"name_pg_prefix", addView("pg_views"), []string{"materialize.yaml", "pg_views"}},
	{"name_agentmv_table", addView("refresh_history"), []string{"materialize.yaml", "refresh_history"}},
	{"name_upper_case", addView("Orders"), []string{"materialize.yaml", "Orders"}},
	{"name_leading_digit", addView("1st"), []string{"materialize.yaml", "1st"}},
	{"name_space_quote", addView(`a "b`), []string{"materialize.yaml"}},
	{"sql_file_missing_key", yamlEdit("    sql_file: materialize/b.sql\n", ""), []string{"materialize.yaml", "sql_file", "b"}},
	{"sql_file_not_found", yamlEdit("materialize/b.sql", "materialize/nope.sql"), []string{"nope.sql", "b"}},
	{"sql_file_directory", yamlEdit("materialize/b.sql", "materialize"), []string{"directory", "b"}},
	{"index_columns_empty", yamlEdit("columns: [id]", "columns: []"), []string{"materialize.yaml", "columns"}},
	{"index_columns_string", yamlEdit("columns: [id]", "columns: id"), []string{"materialize.yaml", "columns"}},
	{"index_column_not_in_view", yamlEdit("columns: [id]", "columns: [nope]"), []string{"nope", "a"}},
	{"index_duplicate", yamlEdit("        unique: true\n", "        unique: true\n      - columns: [id]\n"), []string{"materialize.yaml", "id"}},
	{"index_name_clash_view", addView("a_id_idx"), []string{"materialize.yaml", "a_id_idx"}},
	{"index_column_twice", yamlEdit("columns: [id]", "columns: [id, id]"), []string{"materialize.yaml", "id"}},
	{"yaml_huge_garbage", func(pr *project) {
		pr.write("materialize.yaml", string(pr.read("materialize.yaml"))+strings.Repeat("x: [: {\n", 256<<10)) // 2 MiB: under the 4 MiB cap, so the parser sees it
	}, []string{"materialize.yaml", "line"}},
	{"index_unique_bad_bool", yamlEdit("unique: true", "unique: very"), []string{"materialize.yaml", "unique"}},
	{"indexes_scalar", yamlEdit("    indexes:\n      - columns: [id]\n        unique: true\n", "    indexes: id\n"), []string{"materialize.yaml", "indexes"}},
	{"max_staleness_bad", yamlEdit("    description: totals per name\n", "    description: totals per name\n    max_staleness: soon\n"), []string{"materialize.yaml", "max_staleness"}},
	{"min_refresh_interval_negative", yamlEdit("    description: totals per name\n", "    description: totals per name\n    min_refresh_interval: -5m\n"), []string{"materialize.yaml", "min_refresh_interval"}},

	// SQL files
	{"sql_empty", sqlFile("b.sql", ""), []string{"b.sql"}},
	{"sql_comments_only", sqlFile("b.sql", "-- nothing here\n/* still nothing */\n"), []string{"b.sql"}},
	{"sql_two_statements", sqlFile("b.sql", "SELECT 1 AS x;\nSELECT 2 AS y;\n"), []string{"b.sql"}},
	{"sql_ddl", sqlFile("b.sql", "CREATE TABLE public.evil (id int)\n"), []string{"b.sql"}},
	{"sql_insert", sqlFile("b.sql", "INSERT INTO public.t VALUES (1000, 'x', 1)\n"), []string{"b.sql"}},
	{"sql_update_cte", sqlFile("b.sql", "WITH d AS (DELETE FROM public.t RETURNING id) SELECT id FROM d\n"), []string{"b.sql"}},
	{"sql_select_into", sqlFile("b.sql", "SELECT id INTO public.copy FROM public.t\n"), []string{"b.sql"}},
	{"sql_for_update", sqlFile("b.sql", "SELECT id FROM public.t FOR UPDATE\n"), []string{"b.sql"}},
	{"sql_not_utf8", sqlFile("b.sql", "SELECT 'caf\xe9' AS x\n"), []string{"b.sql", "UTF-8"}},
	{"sql_nul_byte", sqlFile("b.sql", "SELECT 1 AS x\x00\n"), []string{"b.sql", "NUL"}},
	{"sql_5mb", sqlFile("b.sql", "SELECT 1 AS x\n"+strings.Repeat("-- padding padding padding padding padding padding\n", 5<<20/52)), []string{"b.sql"}},
	{"sql_syntax_error_line_3", sqlFile("b.sql", "SELECT name,\n       sum(amount) AS total\n  FROM agent_mv.a WHERE AND amount > 0\n GROUP BY name\n"), []string{"b.sql", "line 3"}},
	{"sql_unknown_table", sqlFile("b.sql", "SELECT x FROM public.no_such_table\n"), []string{"b.sql", "no_such_table"}},
	{"sql_unknown_column", sqlFile("b.sql", "SELECT id, nope FROM public.t\n"), []string{"b", "nope"}},
	{"sql_duplicate_column", sqlFile("b.sql", "SELECT id, id FROM public.t\n"), []string{"b", "id"}},
	{"sql_cycle", func(pr *project) {
		pr.write("materialize/a.sql", "SELECT name AS id, total AS name, total AS amount FROM agent_mv.b\n")
	}, []string{"a", "b", "cycle"}},
	{"sql_index_column_dropped", sqlFile("a.sql", "SELECT name, amount FROM public.t\n"), []string{"a", "id"}},
}

// TestBadInput runs `agent-mv apply --yes` on each broken input: it must fail with exit code 1
// and one error line naming the file, field or line, leave the database and materialize.yaml
// unchanged, and print exactly the golden text (testdata/badinput/<case>.golden; -update
// rewrites them).
func TestBadInput(t *testing.T) {
	t.Parallel()
	if len(badCases) < 40 {
		t.Fatalf("only %d cases", len(badCases))
	}
	runBadCases(t, badCases)
}

// runBadCases applies a good project once, then each case's breakage on top of it.
func runBadCases(t *testing.T, cases []badCase) {
	pr := newProject(t, badSeed)
	pr.write("materialize.yaml", badYAML)
	pr.write("materialize/a.sql", badA)
	pr.write("materialize/b.sql", badB)
	pr.mustRun("apply", "--yes")
	goodYAML := pr.read("materialize.yaml")
	snap := pr.snapshot() + pr.publicState()
	restore := func() {
		pr.write("materialize.yaml", string(goodYAML))
		pr.write("materialize/a.sql", badA)
		pr.write("materialize/b.sql", badB)
	}
	seen := map[string]bool{}
	parent := t
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case %s", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			pr.t = t
			defer func() { pr.t = parent }()
			restore()
			tc.edit(pr)
			yamlBefore := pr.read("materialize.yaml")
			res := pr.run("apply", "--yes")
			if res.code == 0 {
				restore()
				pr.mustRun("apply", "--yes")
				t.Fatalf("apply accepted the broken input:\n%s", res.stdout)
			}
			if res.code != 1 {
				t.Errorf("exit code %d, want 1", res.code)
			}
			if n := strings.Count(res.stderr, "error: "); n != 1 {
				t.Errorf("%d error lines, want one:\n%s", n, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("error does not mention %q:\n%s", w, res.stderr)
				}
			}
			if strings.Contains(res.stderr, "panic") || strings.Contains(res.stderr, "goroutine ") {
				t.Errorf("a crash instead of an error:\n%s", res.stderr)
			}
			if got := pr.read("materialize.yaml"); !bytes.Equal(got, yamlBefore) {
				t.Errorf("materialize.yaml changed")
			}
			if got := pr.snapshot() + pr.publicState(); got != snap {
				t.Errorf("the database changed:\n%s", diffLines(snap, got))
				restore()
				pr.mustRun("apply", "--yes")
			}
			testutil.CheckGolden(t, filepath.Join("testdata", "badinput", tc.name+".golden"), []byte(pr.scrub(res.stderr)))
		})
	}
}

// publicState is what a broken SQL file might have changed outside agentmv's schema.
func (pr *project) publicState() string {
	pr.t.Helper()
	var s string
	if err := pr.admin.QueryRow(context.Background(), `SELECT (SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname)
		FROM pg_catalog.pg_class WHERE relnamespace = 'public'::regnamespace) || ' t=' ||
		(SELECT count(*) || '/' || sum(amount) FROM public.t)`).Scan(&s); err != nil {
		pr.t.Fatal(err)
	}
	return "## public\n" + s + "\n"
}

var tempPath = regexp.MustCompile(`/tmp/[^\s:'"]*?/\d{3}`)

// scrub replaces the project's temporary paths and the database's unique names with
// placeholders so that golden files are stable.
func (pr *project) scrub(s string) string {
	s = strings.ReplaceAll(s, pr.dir, "$PROJECT")
	s = tempPath.ReplaceAllString(s, "$$PROJECT")
	s = strings.ReplaceAll(s, pr.db.Name, "$DB")
	return strings.ReplaceAll(s, pr.db.Prefix, "$PREFIX")
}
