package reliability_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/tools"
)

// TestBadToolArguments sends broken arguments to the runtime tools over a real MCP session
// (streamable HTTP to `agent-mv mcp runtime`): each gets one structured tool error (never a
// protocol error or a crash) whose message names the offending argument, the database is
// unchanged, and the server keeps serving. Golden texts: testdata/toolargs/<case>.golden.
func TestBadToolArguments(t *testing.T) {
	t.Parallel()
	pr := mcpProject(t)
	srv := startHTTPServer(t, pr, nil)
	cs := httpSession(t, srv.url, http.DefaultClient)
	snap := pr.snapshot() + pr.publicState()
	history := historyCounts(t, pr)
	// HTTP bodies are limited to 1 MiB (a larger request gets 413, see TestHTTPHardening), so
	// the big SQL texts here are 900 KB; the stdio case below sends 2 MiB.
	bigSQL := func(n int) string { return "/* " + strings.Repeat("x", n) + " */ SELECT * FROM public.t" }
	stdio := stdioSession(t, pr)
	for _, tc := range []struct {
		name     string
		tool     string
		args     map[string]any
		wantType string
		want     []string
	}{
		{"describe_name_number", "describe_view", map[string]any{"name": 42}, "invalid_argument", []string{"name"}},
		{"describe_name_missing", "describe_view", map[string]any{}, "invalid_argument", []string{"name"}},
		{"describe_extra_field", "describe_view", map[string]any{"name": "a", "verbose": true}, "invalid_argument", []string{"verbose"}},
		{"describe_unknown_view", "describe_view", map[string]any{"name": "nope"}, "unknown_view", []string{"nope"}},
		{"describe_name_traversal", "describe_view", map[string]any{"name": "../etc/passwd"}, "", []string{"../etc/passwd"}},
		{"describe_name_too_long", "describe_view", map[string]any{"name": strings.Repeat("v", 200)}, "", []string{"name"}},
		{"refresh_name_list", "refresh_view", map[string]any{"name": []string{"a", "b"}}, "invalid_argument", []string{"name"}},
		{"refresh_base_table", "refresh_view", map[string]any{"name": "t"}, "unknown_view", []string{"t"}},
		{"refresh_injection", "refresh_view", map[string]any{"name": "a; DROP TABLE t"}, "", []string{"a; DROP TABLE t"}},
		{"query_sql_number", "query_view", map[string]any{"sql": 1}, "invalid_argument", []string{"sql"}},
		{"query_sql_missing", "query_view", map[string]any{"limit": 5}, "invalid_argument", []string{"sql"}},
		{"query_limit_negative", "query_view", map[string]any{"sql": "SELECT id FROM a", "limit": -1}, "invalid_argument", []string{"limit"}},
		{"query_limit_string", "query_view", map[string]any{"sql": "SELECT id FROM a", "limit": "ten"}, "invalid_argument", []string{"limit"}},
		{"query_limit_fraction", "query_view", map[string]any{"sql": "SELECT id FROM a", "limit": 2.5}, "invalid_argument", []string{"limit"}},
		{"query_sql_900kb", "query_view", map[string]any{"sql": bigSQL(900 << 10)}, "not_allowed", []string{"t"}},
		{"query_sql_2mib_stdio", "query_view", map[string]any{"sql": bigSQL(2 << 20)}, "not_allowed", []string{"t"}},
		{"query_base_table", "query_view", map[string]any{"sql": "SELECT * FROM public.t"}, "not_allowed", []string{"t"}},
		{"query_two_statements", "query_view", map[string]any{"sql": "SELECT 1; DROP TABLE t"}, "", []string{"statement"}},
		{"query_write", "query_view", map[string]any{"sql": "DELETE FROM a"}, "not_allowed", []string{"DELETE"}},
		{"query_syntax_error", "query_view", map[string]any{"sql": "SELECT id FROM a WHERE"}, "syntax", []string{"syntax"}},
		{"query_empty", "query_view", map[string]any{"sql": ""}, "", []string{"sql"}},
		{"query_sleep", "query_view", map[string]any{"sql": "SELECT pg_sleep(10) FROM a"}, "not_allowed", []string{"pg_sleep"}},
		{"lineage_name_object", "get_lineage", map[string]any{"name": map[string]any{"x": 1}}, "invalid_argument", []string{"name"}},
		{"list_views_extra_field", "list_views", map[string]any{"schema": "public"}, "invalid_argument", []string{"schema"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Wait)
			defer cancel()
			session := cs
			if strings.HasSuffix(tc.name, "_stdio") {
				session = stdio
			}
			r := callTool(ctx, session, tc.tool, tc.args)
			if r.err != nil {
				t.Fatalf("a protocol error instead of a tool error: %v", r.err)
			}
			if r.errorType == "" {
				t.Fatalf("the call succeeded: %s", short(r.text))
			}
			if r.errorType == "(no envelope)" || r.errorType == "internal" {
				t.Errorf("error without a useful envelope: %s", short(r.text))
			}
			if tc.wantType != "" && r.errorType != tc.wantType {
				t.Errorf("error_type %q, want %q: %s", r.errorType, tc.wantType, short(r.text))
			}
			for _, w := range tc.want {
				if !strings.Contains(r.text, w) {
					t.Errorf("error does not mention %q: %s", w, short(r.text))
				}
			}
			text := r.text
			if len(text) > 2000 {
				t.Errorf("error text is %d bytes; it should not echo a huge argument", len(text))
				text = text[:2000]
			}
			testutil.CheckGolden(t, filepath.Join("testdata", "toolargs", tc.name+".golden"), []byte(r.errorType+"\n"+text+"\n"))
		})
	}
	if got := pr.snapshot() + pr.publicState(); got != snap {
		t.Errorf("the database changed:\n%s", diffLines(snap, got))
	}
	if got := historyCounts(t, pr); got["success"] != history["success"] || got["failed"] != history["failed"] {
		t.Errorf("refresh_history changed: %v, was %v", got, history)
	}
	if r := callTool(context.Background(), cs, "list_views", map[string]any{}); r.err != nil || r.errorType != "" {
		t.Errorf("list_views after the broken calls: %s", r)
	}
	// A huge limit is clamped to the server's row cap (the documented maximum), not an error.
	r := callTool(context.Background(), cs, "query_view", map[string]any{"sql": "SELECT x.id FROM a x CROSS JOIN a y", "limit": 1e12})
	var out struct {
		RowCount  int     `json:"row_count"`
		Truncated any     `json:"truncated"`
		Rows      [][]any `json:"rows"`
	}
	if r.err != nil || r.errorType != "" || json.Unmarshal([]byte(r.text), &out) != nil {
		t.Fatalf("query_view with limit 1e12: %s", short(r.String()))
	}
	if len(out.Rows) != tools.DefaultMaxRows || out.Truncated == nil || out.Truncated == false {
		t.Errorf("limit 1e12 over 10000 rows returned %d rows, truncated %v; want %d rows, truncated", len(out.Rows), out.Truncated, tools.DefaultMaxRows)
	}
}
