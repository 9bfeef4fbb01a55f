package tools_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

type setupEnv struct {
	env   *mcpclient.Env
	root  string
	cs    *mcp.ClientSession
	added [][]tools.NewView
}

func setupSession(t *testing.T) *setupEnv {
	t.Helper()
	se := &setupEnv{env: mcpclient.Setup(t), root: t.TempDir()}
	reg, err := tools.SetupTools(tools.SetupConfig{Pool: se.env.Admin, Root: se.root, Schema: "agent_mv",
		ViewNames: func() []string { return []string{"existing_view"} },
		AddViews: func(_ context.Context, v []tools.NewView) error {
			se.added = append(se.added, v)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	se.cs = session(t, reg)
	return se
}

func TestSetupCatalogTools(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	cs := se.cs
	sch := decode[tools.SchemasOutput](t, call(t, cs, "list_schemas", map[string]any{}))
	if !slices.Contains(sch.Schemas, "public") || !slices.Contains(sch.Schemas, "agent_mv") || slices.Contains(sch.Schemas, "information_schema") {
		t.Errorf("schemas = %v", sch.Schemas)
	}
	tabs := decode[tools.TablesOutput](t, call(t, cs, "list_tables", map[string]any{"schema": "public"}))
	var names []string
	for _, tb := range tabs.Tables {
		names = append(names, tb.Name+":"+tb.Kind)
	}
	if want := []string{"customers:table", "divisor:table", "orders:table", "secrets:table"}; !slices.Equal(names, want) {
		t.Errorf("tables = %v", names)
	}
	if te := toolErr(t, call(t, cs, "list_tables", map[string]any{"schema": "nope"})); te.ErrorType != tools.ErrUnknownRelation {
		t.Errorf("unknown schema: %s", te.ErrorType)
	}
	d := decode[tools.TableOutput](t, call(t, cs, "describe_table", map[string]any{"name": "orders"}))
	if d.Name != "public.orders" || len(d.Columns) != 4 || !slices.Equal(d.PrimaryKey, []string{"id"}) ||
		len(d.ForeignKeys) != 1 || d.ForeignKeys[0].References != "public.customers(id)" || d.Columns[2].Type != "numeric(10,2)" {
		t.Errorf("describe orders: %+v", d)
	}
	if te := toolErr(t, call(t, cs, "describe_table", map[string]any{"name": `public."x"; DROP TABLE orders; --`})); te.ErrorType != tools.ErrUnknownRelation {
		t.Errorf("hostile name: %s", te.ErrorType)
	}
	// profile_table on a table whose name needs quoting.
	se.env.Exec(t, `CREATE TABLE public."Odd ""Name""" (k text); INSERT INTO public."Odd ""Name""" SELECT CASE WHEN g % 4 = 0 THEN NULL ELSE 'v' || (g % 3) END FROM generate_series(1, 400) g; ANALYZE public."Odd ""Name"""`)
	p := decode[tools.ProfileOutput](t, call(t, cs, "profile_table", map[string]any{"name": `public."Odd ""Name"""`}))
	if !p.Analyzed || p.RowsEstimate == nil || *p.RowsEstimate != 400 || len(p.Columns) != 1 {
		t.Fatalf("profile: %+v", p)
	}
	c := p.Columns[0]
	if c.NullFrac == nil || *c.NullFrac != 0.25 || c.Distinct == nil || *c.Distinct != 3 || len(c.TopValues) != 3 {
		t.Errorf("profile column: %+v", c)
	}
	po := decode[tools.ProfileOutput](t, call(t, cs, "profile_table", map[string]any{"name": "public.divisor"}))
	if po.Analyzed || !strings.Contains(po.Note, "ANALYZE") {
		t.Errorf("unanalyzed profile: %+v", po)
	}
}

func TestReadRepoFilesConfined(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	outside := t.TempDir()
	files := map[string]string{
		"app/models.py": "class Order: pass\n", "app/schema.sql": "CREATE TABLE x();\n", ".env": "DATABASE_URL=postgres://u:secret@h/db\n",
		".env.local": "x", "app/.env.production": "x", "certs/server.pem": "x", "id_rsa": "x", ".git/config": "x",
		"node_modules/m/index.js": "x", "vendor/v.go": "x", "big.txt": strings.Repeat("é", tools.MaxRepoFileBytes), "bin.dat": "a\x00b",
	}
	for name, body := range files {
		p := filepath.Join(se.root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x"), 0o644)
	os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(se.root, "app", "link_out.txt"))
	os.Symlink(filepath.Join(se.root, ".env"), filepath.Join(se.root, "app", "env_link.txt"))
	os.Symlink(outside, filepath.Join(se.root, "outdir"))

	out := decode[tools.RepoFilesOutput](t, call(t, se.cs, "read_repo_files", map[string]any{"globs": []string{"**/*", "**/.env*", "outdir/*"}}))
	var got []string
	for k := range out.Files {
		got = append(got, k)
	}
	slices.Sort(got)
	if want := []string{"app/models.py", "app/schema.sql", "big.txt"}; !slices.Equal(got, want) {
		t.Errorf("files = %v, want %v (skipped %+v)", got, want, out.Skipped)
	}
	for _, v := range out.Files {
		if strings.Contains(v, "secret") || strings.Contains(v, "root:x") {
			t.Errorf("a secret leaked: %q", v)
		}
	}
	if big := out.Files["big.txt"]; len(big) > tools.MaxRepoFileBytes+len("\n... [truncated]") || !strings.HasSuffix(big, "[truncated]") || !out.Truncated {
		t.Errorf("big.txt not capped at a character boundary: %d bytes", len(big))
	}
	for _, g := range []string{"../*", "/etc/passwd", "app/../../x"} {
		if te := toolErr(t, call(t, se.cs, "read_repo_files", map[string]any{"globs": []string{g}})); te.ErrorType != tools.ErrNotAllowed {
			t.Errorf("glob %q: %s", g, te.ErrorType)
		}
	}
}

func TestFinalizeConfig(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	if te := toolErr(t, call(t, se.cs, "finalize_config", map[string]any{"approved_names": []string{"a"}})); !strings.Contains(te.Message, "no staging file") {
		t.Errorf("no staging: %+v", te)
	}
	staging := `proposals:
  - name: revenue_by_day
    sql: SELECT day, sum(amount) AS revenue FROM public.orders GROUP BY day
    rationale: Daily revenue for the finance agent.
    indexes:
      - columns: [day]
        unique: true
    columns: [day, revenue]
    column_descriptions:
      revenue: Sum of order amounts, in euros
  - name: existing_view
    sql: SELECT 1 AS one
    rationale: clashes
  - name: later
    sql: SELECT 2 AS two
    rationale: stays staged
`
	os.WriteFile(filepath.Join(se.root, tools.StagingFileName), []byte(staging), 0o644)
	for _, c := range []struct {
		names []string
		want  string
	}{
		{[]string{"../../etc/x"}, "invalid_argument"},
		{[]string{"nope"}, "unknown proposal: nope"},
		{[]string{"existing_view"}, "already exists"},
		{[]string{"revenue_by_day", "revenue_by_day"}, "listed twice"},
		{[]string{"later"}, "column_descriptions names revenue_by_day, which is not among approved_names"},
		{[]string{"revenue_by_day"}, `column_descriptions of revenue_by_day: "total" is not an output column (the columns are day, revenue)`},
	} {
		args := map[string]any{"approved_names": c.names}
		if strings.HasPrefix(c.want, "column_descriptions") {
			args["column_descriptions"] = map[string]map[string]string{"revenue_by_day": {"total": "x"}}
		}
		te := toolErr(t, call(t, se.cs, "finalize_config", args))
		if te.ErrorType != c.want && !strings.Contains(te.Message, c.want) {
			t.Errorf("%v: %+v", c.names, te)
		}
	}
	if _, err := os.Stat(filepath.Join(se.root, "materialize")); err == nil && len(se.added) > 0 {
		t.Fatal("a rejected finalize wrote something")
	}
	out := decode[tools.FinalizeOutput](t, call(t, se.cs, "finalize_config", map[string]any{"approved_names": []string{"revenue_by_day"},
		"column_descriptions": map[string]map[string]string{"revenue_by_day": {"day": "Order day (UTC)"}}}))
	if !slices.Equal(out.Added, []string{"revenue_by_day"}) || !slices.Equal(out.Remaining, []string{"existing_view", "later"}) {
		t.Errorf("finalize: %+v", out)
	}
	sql, err := os.ReadFile(filepath.Join(se.root, "materialize", "revenue_by_day.sql"))
	if err != nil || !strings.Contains(string(sql), "GROUP BY day") {
		t.Errorf("sql file: %v %q", err, sql)
	}
	if len(se.added) != 1 || se.added[0][0].SQLFile != "materialize/revenue_by_day.sql" || !slices.Equal(se.added[0][0].Indexes[0].Columns, []string{"day"}) ||
		se.added[0][0].Description != "Daily revenue for the finance agent." ||
		!slices.Equal(se.added[0][0].Columns, []tools.ColumnDescription{{Column: "day", Description: "Order day (UTC)"}, {Column: "revenue", Description: "Sum of order amounts, in euros"}}) {
		t.Errorf("AddViews got %+v", se.added)
	}
	// Finalizing the same name again: the proposal is gone.
	if te := toolErr(t, call(t, se.cs, "finalize_config", map[string]any{"approved_names": []string{"revenue_by_day"}})); !strings.Contains(te.Message, "unknown proposal") {
		t.Errorf("second finalize: %+v", te)
	}
}

// TestSetupToolListSize: the setup server's tools/list, as a JSON-RPC message, stays within
// its budget (10 KiB: eight tools, propose_view's input carries a whole tool declaration;
// 8,676 B when the budget was set), so the setup agent's context is not spent on definitions.
func TestSetupToolListSize(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	lt, err := se.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "result": lt})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("setup tools/list response: %d bytes, %d tools", len(msg), len(lt.Tools))
	if len(lt.Tools) != 8 || len(msg) > 10*1024 {
		t.Errorf("setup tools/list: %d tools in %d bytes, want 8 within the 10240-byte budget", len(lt.Tools), len(msg))
	}
}
