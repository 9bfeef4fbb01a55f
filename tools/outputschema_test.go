package tools_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	gjs "github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/tools"
)

// outputSchemas caches, per client session, each tool's outputSchema as listed by the server
// (tools/list over the session), resolved for validation.
var outputSchemas sync.Map // *mcp.ClientSession -> map[string]*gjs.Resolved

func listedOutputSchemas(t *testing.T, cs *mcp.ClientSession) map[string]*gjs.Resolved {
	t.Helper()
	if m, ok := outputSchemas.Load(cs); ok {
		return m.(map[string]*gjs.Resolved)
	}
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	m := map[string]*gjs.Resolved{}
	for _, tl := range lt.Tools {
		if tl.OutputSchema == nil {
			continue
		}
		raw, err := json.Marshal(tl.OutputSchema)
		if err != nil {
			t.Fatalf("%s: outputSchema: %v", tl.Name, err)
		}
		var s gjs.Schema
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("%s: outputSchema %s: %v", tl.Name, raw, err)
		}
		if s.Type != "object" {
			t.Errorf("%s: outputSchema type %q, want object", tl.Name, s.Type)
		}
		r, err := s.Resolve(nil)
		if err != nil {
			t.Fatalf("%s: outputSchema does not resolve: %v", tl.Name, err)
		}
		m[tl.Name] = r
	}
	outputSchemas.Store(cs, m)
	return m
}

// checkStructured validates a tool result the way the official TypeScript client does: a tool
// that declares an outputSchema must return structuredContent satisfying it (unless the result
// is an error, which carries none), and the text block must carry the same JSON.
// It reports whether the result was a success that validated.
func checkStructured(t *testing.T, cs *mcp.ClientSession, name string, res *mcp.CallToolResult) bool {
	t.Helper()
	schema, declared := listedOutputSchemas(t, cs)[name]
	if res.IsError && res.StructuredContent != nil {
		t.Errorf("%s: an error result carries structuredContent (clients validate it against the outputSchema): %v", name, res.StructuredContent)
	}
	if res.IsError || !declared {
		return false
	}
	if res.StructuredContent == nil {
		t.Errorf("%s declares an outputSchema but returned no structuredContent", name)
		return false
	}
	// The client decodes structuredContent into a map; validate that value.
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatalf("%s: structuredContent: %v", name, err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: structuredContent: %v", name, err)
	}
	if err := schema.Validate(v); err != nil {
		t.Errorf("%s: structuredContent does not satisfy the declared outputSchema: %v\n%s", name, err, raw)
		return false
	}
	if len(res.Content) == 1 {
		if tc, ok := res.Content[0].(*mcp.TextContent); ok {
			var tv any
			if err := json.Unmarshal([]byte(tc.Text), &tv); err != nil {
				t.Errorf("%s: text block is not JSON: %v", name, err)
			} else if a, b := mustJSON(t, tv), mustJSON(t, v); a != b {
				t.Errorf("%s: text block and structuredContent differ:\n%s\n%s", name, a, b)
			}
		}
	}
	return true
}

// TestEveryToolDeclaresAndSatisfiesOutputSchema calls every runtime and setup tool through a
// real MCP session with arguments that succeed, and checks that each declares an outputSchema
// in tools/list and returns structuredContent that satisfies it, plus the same JSON as text.
func TestEveryToolDeclaresAndSatisfiesOutputSchema(t *testing.T) {
	ctx := context.Background()
	_, rcs := runtimeSession(t)
	se := setupSession(t)
	os.WriteFile(filepath.Join(se.root, "schema.sql"), []byte("CREATE TABLE t (id int);\n"), 0o644)
	calls := []struct {
		cs   *mcp.ClientSession
		tool string
		args map[string]any
	}{
		{rcs, tools.ToolListViews, map[string]any{}},
		{rcs, tools.ToolDescribeView, map[string]any{"name": "customer_rollup"}},
		{rcs, tools.ToolQueryView, map[string]any{"sql": "SELECT * FROM customer_rollup ORDER BY customer_id", "limit": 3}},
		{rcs, tools.ToolQueryView, map[string]any{"sql": "SELECT customer_id FROM customer_rollup WHERE false"}},
		{rcs, tools.ToolRefreshView, map[string]any{"name": "customer_rollup"}},
		{rcs, tools.ToolGetLineage, map[string]any{"name": "top_customers"}},
		{se.cs, tools.ToolListSchemas, map[string]any{}},
		{se.cs, tools.ToolListTables, map[string]any{"schema": "public"}},
		{se.cs, tools.ToolDescribeTable, map[string]any{"name": "public.orders"}},
		{se.cs, tools.ToolProfileTable, map[string]any{"name": "public.orders"}},
		{se.cs, tools.ToolSampleQuery, map[string]any{"sql": "SELECT id, amount, day FROM public.orders ORDER BY id", "limit": 2}},
		{se.cs, tools.ToolReadRepoFiles, map[string]any{"globs": []string{"*.sql"}}},
		{se.cs, tools.ToolProposeView, map[string]any{"name": "revenue_by_day", "sql": "SELECT day, sum(amount) AS revenue FROM public.orders GROUP BY day", "rationale": "Daily revenue."}},
		{se.cs, tools.ToolFinalizeConfig, map[string]any{"approved_names": []string{"revenue_by_day"}}},
	}
	validated := map[*mcp.ClientSession]map[string]bool{rcs: {}, se.cs: {}}
	for _, c := range calls {
		res, err := c.cs.CallTool(ctx, &mcp.CallToolParams{Name: c.tool, Arguments: c.args})
		if err != nil {
			t.Fatalf("%s: %v", c.tool, err)
		}
		if res.IsError {
			t.Errorf("%s: unexpected tool error: %s", c.tool, res.Content[0].(*mcp.TextContent).Text)
			continue
		}
		if checkStructured(t, c.cs, c.tool, res) {
			validated[c.cs][c.tool] = true
		}
	}
	for cs, got := range validated {
		lt, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tl := range lt.Tools {
			if tl.OutputSchema == nil {
				t.Errorf("%s declares no outputSchema", tl.Name)
			}
			if !got[tl.Name] {
				t.Errorf("%s: no successful result validated against its outputSchema", tl.Name)
			}
		}
	}
}
