package tools_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/tools"
)

// TestSetupToolsCatalogRule: every setup tool that names a relation refuses the system
// catalogs exactly as sample_query does (one rule), so describe_table and profile_table no
// longer read pg_catalog.pg_authid (role names and password hashes' columns) or
// information_schema, and list_tables does not list a catalog schema.
func TestSetupToolsCatalogRule(t *testing.T) {
	se := setupSession(t)
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"describe_table", map[string]any{"name": "pg_catalog.pg_authid"}},
		{"describe_table", map[string]any{"name": "PG_CATALOG.pg_class"}},
		{"describe_table", map[string]any{"name": "information_schema.tables"}},
		{"describe_table", map[string]any{"name": `"pg_catalog"."pg_authid"`}},
		{"describe_table", map[string]any{"name": "pg_toast.pg_toast_1260"}},
		{"profile_table", map[string]any{"name": "pg_catalog.pg_authid"}},
		{"profile_table", map[string]any{"name": "pg_catalog.pg_statistic"}},
		{"list_tables", map[string]any{"schema": "pg_catalog"}},
		{"list_tables", map[string]any{"schema": "information_schema"}},
		{"sample_query", map[string]any{"sql": "SELECT rolname FROM pg_catalog.pg_authid"}},
	} {
		te := toolErr(t, call(t, se.cs, c.tool, c.args))
		if te.ErrorType != tools.ErrNotAllowed || !strings.Contains(te.Message, "system catalogs are not readable by the setup tools") {
			t.Errorf("%s %v: %+v, want the catalog rule's not_allowed", c.tool, c.args, te)
		}
		if strings.Contains(te.Hint, "list_views") || strings.Contains(te.Hint, "describe_view") {
			t.Errorf("%s: the hint names a tool of the runtime server: %q", c.tool, te.Hint)
		}
	}
	// User tables still work through every tool.
	if d := decode[tools.TableOutput](t, call(t, se.cs, "describe_table", map[string]any{"name": "public.orders"})); d.Name != "public.orders" {
		t.Errorf("describe public.orders: %+v", d)
	}
}

// TestProfileTableMasksSecretColumns: profile_table shows the most common values of ordinary
// columns but masks those of columns whose names say they are secret (password, api_key,
// refreshToken, ssn), keeping their frequencies and saying why.
func TestProfileTableMasksSecretColumns(t *testing.T) {
	se := setupSession(t)
	se.env.Exec(t, `CREATE TABLE public.members (id int, plan text, password_hash text, api_key text, "refreshToken" text, ssn text);
INSERT INTO public.members SELECT g, 'plan-' || (g % 2), 'hash-' || (g % 3), 'key-' || (g % 2), 'rt-' || (g % 2), 'ssn-' || (g % 4)
  FROM generate_series(1, 400) g;
ANALYZE public.members`)
	res := call(t, se.cs, "profile_table", map[string]any{"name": "public.members"})
	raw := text(t, res)
	for _, secret := range []string{"hash-", "key-", "rt-", "ssn-"} {
		if strings.Contains(raw, secret) {
			t.Errorf("profile_table returned values of a secret column (%s…)", secret)
		}
	}
	p := decode[tools.ProfileOutput](t, res)
	if !p.Analyzed {
		t.Fatalf("not analyzed: %+v", p)
	}
	cols := map[string]tools.ColumnProfile{}
	for _, c := range p.Columns {
		cols[c.Name] = c
	}
	if plan := cols["plan"]; plan.Masked != "" || len(plan.TopValues) != 2 || !strings.HasPrefix(plan.TopValues[0].Value, "plan-") {
		t.Errorf("ordinary column masked or missing: %+v", plan)
	}
	for _, name := range []string{"password_hash", "api_key", "refreshToken", "ssn"} {
		c := cols[name]
		if c.Masked == "" || len(c.TopValues) == 0 {
			t.Errorf("%s: not masked: %+v", name, c)
			continue
		}
		for _, v := range c.TopValues {
			if v.Value != tools.MaskedValue || v.Frequency <= 0 {
				t.Errorf("%s: top value %+v, want %s with its frequency", name, v, tools.MaskedValue)
			}
		}
	}
}

// TestSampleQueryMasksSecretColumns: sample_query returns the rows, but the values of columns
// whose names say they are secret come back as MaskedValue (NULL stays null), by the rule
// profile_table masks by, and the result names the masked columns.
func TestSampleQueryMasksSecretColumns(t *testing.T) {
	se := setupSession(t)
	se.env.Exec(t, `CREATE TABLE public.accounts (id int, plan text, password_hash text, "apiToken" text);
INSERT INTO public.accounts VALUES (1, 'pro', 'hash-secret-1', 'tok-secret-1'), (2, 'free', NULL, 'tok-secret-2')`)
	for _, c := range []struct {
		sql    string
		masked []string
	}{
		{"SELECT * FROM accounts ORDER BY id", []string{"password_hash", "apiToken"}},
		{`SELECT id, plan, "apiToken" AS api_token FROM accounts ORDER BY id`, []string{"api_token"}},
		{"SELECT id, plan FROM accounts ORDER BY id", nil},
		// Under another name, or computed from one, a secret column is still masked: the
		// column lineage names where each output column's value comes from.
		{"SELECT id, plan, password_hash AS p FROM accounts ORDER BY id", []string{"p"}},
		{`SELECT id, upper("apiToken") AS shout, plan || '/' || coalesce(password_hash, '') AS mix FROM public.accounts ORDER BY id`, []string{"shout", "mix"}},
		{`WITH a AS (SELECT id, "apiToken" AS t FROM accounts) SELECT a.id, x.t AS plain FROM a JOIN (SELECT id, t FROM a) x USING (id) ORDER BY 1`, []string{"plain"}},
	} {
		res := call(t, se.cs, "sample_query", map[string]any{"sql": c.sql})
		if raw := text(t, res); strings.Contains(raw, "secret-") {
			t.Errorf("%s: returned a secret value:\n%s", c.sql, raw)
		}
		out := decode[tools.Result](t, res)
		if out.RowCount != 2 || !slices.Equal(out.MaskedColumns, c.masked) {
			t.Errorf("%s: %d rows, masked %v; want 2 rows, masked %v", c.sql, out.RowCount, out.MaskedColumns, c.masked)
			continue
		}
		for i, col := range out.Columns {
			secret := slices.Contains(c.masked, col.Name)
			for r, row := range out.Rows {
				switch {
				case secret && row[i] == nil && !((col.Name == "password_hash" || col.Name == "p") && r == 1): // NULL stays null
					t.Errorf("%s: row %d %s is null, want %s", c.sql, r, col.Name, tools.MaskedValue)
				case secret && row[i] != nil && row[i] != tools.MaskedValue:
					t.Errorf("%s: row %d %s = %v, want %s", c.sql, r, col.Name, row[i], tools.MaskedValue)
				case !secret && row[i] == tools.MaskedValue:
					t.Errorf("%s: row %d %s masked, but its name says nothing secret", c.sql, r, col.Name)
				}
			}
		}
	}
}

// TestSetupErrorsNameSetupTools: errors of the setup tools send the agent to setup tools
// (list_tables, describe_table), never to the runtime server's list_views or describe_view,
// which the setup agent does not have.
func TestSetupErrorsNameSetupTools(t *testing.T) {
	se := setupSession(t)
	for _, c := range []struct {
		tool, want string
		args       map[string]any
	}{
		{"sample_query", "describe_table", map[string]any{"sql": "SELECT nope FROM public.orders"}},
		{"sample_query", "list_tables", map[string]any{"sql": "SELECT * FROM public.no_such_table"}},
		{"sample_query", "", map[string]any{"sql": "SELECT pg_sleep(1)"}},
		{"sample_query", "", map[string]any{"sql": "SELECT public.f()"}},
		{"propose_view", "", map[string]any{"name": "v_bad", "sql": "SELECT nope FROM public.orders", "rationale": "r"}},
		{"propose_view", "", map[string]any{"name": "v_bad2", "sql": "SELECT * FROM public.no_such_table", "rationale": "r"}},
		{"describe_table", "list_tables", map[string]any{"name": "public.no_such_table"}},
	} {
		te := toolErr(t, call(t, se.cs, c.tool, c.args))
		for _, runtimeTool := range []string{"list_views", "describe_view", "query_view", "managed view"} {
			if strings.Contains(te.Hint, runtimeTool) {
				t.Errorf("%s %v: the hint names %q: %+v", c.tool, c.args, runtimeTool, te)
			}
		}
		if te.ErrorType == tools.ErrUnknownView {
			t.Errorf("%s %v: unknown_view from a setup tool: %+v", c.tool, c.args, te)
		}
		if c.want != "" && !strings.Contains(te.Hint, c.want) {
			t.Errorf("%s %v: hint %q, want it to name %s", c.tool, c.args, te.Hint, c.want)
		}
	}
}
