package boundary

import (
	"fmt"
	"strings"
	"testing"
)

// TestTemplatesRender renders every statement with odd names: templates fail at run time
// only, so each must be exercised here, and every identifier must come out quoted.
func TestTemplatesRender(t *testing.T) {
	n := Names{Schema: "we\"ird", RuntimeRole: "rt", OwnerRole: "ow"}
	one := []string{"x"}
	two := []string{"x", "y"}
	cases := []struct {
		s    sqlText
		args []string
	}{
		{refreshFunctionSQL, nil}, {refreshViewCall, nil}, {runningRefreshesSQL, nil},
		{applyLockSQL, nil}, {bootstrapLockSQL, nil}, {refreshLockKey, nil},
		{refreshModesSQL, nil}, {relationAccessSQL, nil}, {roleRightsSQL, nil},
		{registryColumnsSQL, nil}, {readRegistrySQL, two}, {upsertViewSQL, nil},
		{deleteViewSQL, nil}, {readLineageSQL, nil}, {viewLineageSQL, nil}, {clearLineageSQL, nil},
		{writeLineageSQL, nil}, {readGraphSQL, nil}, {lineageOfSQL, nil}, {columnSourcesSQL, nil},
		{viewColumnLineageSQL, nil}, {clearColumnLineageSQL, nil}, {writeColumnLineageSQL, nil},
		{recordCreatedSQL, nil}, {readHistorySQL, nil}, {viewStatesSQL, nil}, {statusMarkSQL, nil},
		{recordMigrationSQL, nil}, {installedVersionSQL, nil}, {addColumnSQL, []string{"description"}},
		{setOwnerRoleSQL, nil}, {resetRoleSQL, nil}, {relationExistsSQL, nil}, {functionExistsSQL, nil},
		{createRuntimeRoleSQL, one}, {setRuntimePasswordSQL, one}, {runtimeLoginSQL, nil},
		{createOwnerRoleSQL, nil}, {grantOwnerToAdminSQL, nil}, {revokePublicTempSQL, one},
		{revokePublicCreateSQL, nil}, {grantOwnerTempSQL, one}, {createSchemaSQL, nil},
		{schemaOwnerSQL, nil}, {revokeSchemaSQL, nil}, {grantSchemaUsageSQL, nil}, {grantSelectSQL, one},
		{revokeFunctionSQL, nil}, {grantFunctionSQL, nil},
		{createViewSQL, one}, {createIndexSQL, []string{"ix", "v", "a", "b"}},
		{createUniqueIndexSQL, []string{"ix", "v", "a"}}, {dropIndexSQL, one}, {dropViewSQL, one},
		{grantOwnerUsageSQL, one}, {revokeOwnerUsageSQL, one}, {grantOwnerSelectSQL, two},
		{revokeOwnerSelectSQL, two}, {dependentsSQL, nil}, {doctorViewsSQL, nil}, {readNothingSQL, one},
		{readAgentRolesSQL, nil}, {upsertAgentRoleSQL, nil}, {deleteAgentRoleSQL, nil},
		{toolsMigration[0], nil}, {readToolsSQL, nil}, {upsertToolSQL, nil}, {deleteToolSQL, nil},
		{createAgentRoleSQL, two}, {agentPasswordSQL, two}, {agentLoginSQL, one}, {agentNoLoginSQL, one},
		{dropAgentRoleSQL, one}, {grantAgentUsageSQL, one}, {revokeAgentUsageSQL, one},
		{grantAgentExecSQL, one}, {revokeAgentExecSQL, one}, {grantAgentSelectSQL, two},
		{revokeAgentRelSQL, two}, {agentPrivilegesSQL, nil},
		{readCommentsSQL, nil}, {commentViewSQL, two}, {commentTableSQL, two}, {commentColumnSQL, []string{"v", "c", ""}},
		{lockSourceSQL, two}, {createDefSQL, one}, {createTableSQL, two}, {createLogSQL, []string{"l", "s", "t", "a", "b"}},
		{attnumsSQL, nil}, {revokeCaptureSQL, one}, {triggerSQL[0], []string{"t", "s", "r", "f"}},
		{triggerSQL[1], []string{"t", "s", "r", "f"}}, {triggerSQL[2], []string{"t", "s", "r", "f"}},
		{triggerSQL[3], []string{"t", "s", "r", "f"}}, {enableAlwaysSQL, []string{"s", "r", "a", "b", "c", "d"}},
		{recordIncremental, nil}, {readIncrementalSQL, nil}, {dropTriggerSQL, []string{"t", "s", "r"}},
		{dropTableSQL, one}, {dropDefSQL, one}, {dropFunctionSQL, one}, {forgetIncremental, nil},
		{captureTokenExprSQL, []string{"ARRAY['x']"}}, {incrementalModeSQL, nil}, {incrementalRefreshSQL, nil},
		{managedRelationsSQL, nil}, {captureStateSQL, nil}, {captureColumnsSQL, nil}, {orphanTriggersSQL, nil}, {orphanObjectsSQL, nil}, {viewColumnsSQL, nil},
	}
	for _, c := range cases {
		got := c.s.render(n, c.args...)
		if strings.Contains(got, "{{") || strings.Contains(got, "<no value>") {
			t.Errorf("%s: unrendered template: %s", c.s.t.Name(), got)
		}
		if strings.Contains(got, "we\"ird") && !strings.Contains(got, `"we""ird"`) && !strings.Contains(got, `'we"ird'`) {
			t.Errorf("%s: schema not quoted: %s", c.s.t.Name(), got)
		}
	}
	for _, m := range migrations {
		for _, s := range m.sql {
			if got := s.render(n); strings.Contains(got, "{{") {
				t.Errorf("migration %d: unrendered template", m.Version)
			}
		}
	}
	ref := CaptureRef{CaptureSource: CaptureSource{Schema: "s", Name: "t", Columns: []string{"a", "we\"ird"}}, Log: "v$log1", Function: "v$cap1", Attnums: []int{1, 3}}
	fn, err := captureFunctionSQL.renderWith(captureData{sqlData{n: n}, ref})
	if err != nil || strings.Contains(fn, "{{") || !strings.Contains(fn, `n."we""ird"`) || !strings.Contains(fn, `(3, 'we"ird')`) {
		t.Errorf("capture function (%v): %s", err, fn)
	}
	ref.Attnums = nil
	if _, err := captureFunctionSQL.renderWith(captureData{sqlData{n: n}, ref}); err == nil {
		t.Error("capture function without column numbers rendered")
	}
	if got := createIndexSQL.render(n, "ix", "v", "a", "b"); got != `CREATE INDEX "ix" ON "we""ird"."v" ("a", "b")` {
		t.Errorf("create index = %s", got)
	}
	// Free text stays one escape-string literal, whatever standard_conforming_strings says.
	for _, c := range []struct{ text, want string }{
		{`it's \'; DROP TABLE t; --`, `COMMENT ON COLUMN "we""ird"."v"."c" IS E'it''s \\''; DROP TABLE t; --'`},
		{"", `COMMENT ON COLUMN "we""ird"."v"."c" IS NULL`},
	} {
		if got := commentColumnSQL.render(n, "v", "c", c.text); got != c.want {
			t.Errorf("comment column %q = %s, want %s", c.text, got, c.want)
		}
	}
}

// TestViewStatesNeverCounts: status must stay O(views), never O(rows).
func TestViewStatesNeverCounts(t *testing.T) {
	q := strings.ToLower(viewStatesSQL.render(DefaultNames()))
	for _, bad := range []string{"count(", "count (", "pg_sleep"} {
		if strings.Contains(q, bad) {
			t.Errorf("status SQL contains %q: status must stay O(views)", bad)
		}
	}
}

// TestExpectedVersionIsLastMigration: adding a migration step must bump ExpectedVersion, and
// versions run 1, 2, 3, ... without gaps.
func TestExpectedVersionIsLastMigration(t *testing.T) {
	for i, m := range migrations {
		if m.Version != i+1 {
			t.Fatalf("migration %d has version %d, want %d", i, m.Version, i+1)
		}
	}
	if last := migrations[len(migrations)-1].Version; last != ExpectedVersion {
		t.Fatalf("ExpectedVersion = %d, but the last migration is %d: bump ExpectedVersion", ExpectedVersion, last)
	}
	seen := map[string]bool{}
	for _, c := range registryColumns() {
		if seen[c.name] {
			t.Errorf("registry column %s declared twice", c.name)
		}
		seen[c.name] = true
	}
}

// TestRenderKeepsTextsPerNames: a statement rendered without args is kept per set of names, and
// never answered for other names or with args; past maxRenderedNames sets it is still rendered
// right, only no longer kept.
func TestRenderKeepsTextsPerNames(t *testing.T) {
	s := mustSQL("render_memo_test", `SELECT {{.O}} FROM {{.Views}}{{range .Args}}, {{$.Ident .}}{{end}}`)
	want := func(n Names, extra string) string {
		return `SELECT "` + n.OwnerRole + `" FROM "` + n.Schema + `"."views"` + extra
	}
	for i := range maxRenderedNames + 4 {
		n := Names{Schema: fmt.Sprintf("s%d", i), RuntimeRole: "rt", OwnerRole: fmt.Sprintf("o%d", i)}
		for range 2 { // the second render of each set comes from the kept text while there is room
			if got := s.render(n); got != want(n, "") {
				t.Fatalf("render(%+v) = %q, want %q", n, got, want(n, ""))
			}
		}
		if got := s.render(n, "a"); got != want(n, `, "a"`) {
			t.Fatalf("render(%+v, a) = %q", n, got)
		}
		_, kept := s.rendered.m.Load(n)
		if kept != (i < maxRenderedNames) {
			t.Fatalf("names #%d kept = %v, want %v (at most %d sets)", i, kept, i < maxRenderedNames, maxRenderedNames)
		}
	}
}
