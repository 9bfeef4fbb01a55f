package agentmv

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentmv/agentmv/tools"
)

const toolsHead = "version: 1\ntarget_schema: agent_mv\nviews:\n" +
	"  - name: rollup\n    sql_file: materialize/a.sql\n    description: d\n" // lines 4-6
var toolsFiles = map[string]string{"materialize/a.sql": "SELECT 1 AS id, 'x'::text AS region\n", "tools/by_region.sql": "SELECT id FROM rollup WHERE region = @region\n"}

func TestToolsConfigValid(t *testing.T) {
	path := writeProject(t, toolsHead+`tools:
  - name: by_region
    description: Ids in one region.
    sql_file: tools/by_region.sql
    parameters:
      - {name: region, type: string, required: true, max_length: 20, enum: [eu, us]}
  - name: recent
    description: Recent ids.
    sql: SELECT id FROM agent_mv.rollup WHERE id = ANY($1) AND $2::date IS NOT NULL AND id < $3
    parameters:
      - name: ids
        type: integer[]
        description: which ids
      - name: since
        type: date
        default: 2026-01-01
      - name: below
        type: number
        min: 0
        max: 1.5e3
        default: 10
`, toolsFiles)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []tools.ToolSpec{
		{Name: "by_region", Description: "Ids in one region.", SQL: "SELECT id FROM rollup WHERE region = @region\n",
			Parameters: []tools.ParamSpec{{Name: "region", Type: "string", Required: true, MaxLength: new(20), Enum: []any{"eu", "us"}}}},
		{Name: "recent", Description: "Recent ids.", SQL: "SELECT id FROM agent_mv.rollup WHERE id = ANY($1) AND $2::date IS NOT NULL AND id < $3",
			Parameters: []tools.ParamSpec{{Name: "ids", Type: "integer[]", Description: "which ids"},
				{Name: "since", Type: "date", Default: "2026-01-01"},
				{Name: "below", Type: "number", Min: new(0.0), Max: new(1500.0), Default: int64(10)}}},
	}
	if d := cmp.Diff(want, cfg.ToolSpecs()); d != "" {
		t.Errorf("tools (-want +got):\n%s", d)
	}
	if cfg.Tools[0].Line != 8 || cfg.Tools[0].SQLLine != 10 || cfg.Tools[1].Reads[0] != "rollup" {
		t.Errorf("positions/reads: %+v", cfg.Tools)
	}
}

// TestToolsConfigErrors: a bad tool is refused when the config loads (so by plan and apply),
// with the YAML line and what to change.
func TestToolsConfigErrors(t *testing.T) {
	tool := func(sql string, params string) string {
		return "tools:\n  - name: t1\n    description: d\n    sql: " + sql + "\n" + params // t1 at line 8, sql at 10
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"base table", tool("SELECT * FROM public.orders", ""), "line 10: tool \"t1\": sql: relation public.orders is outside schema agent_mv"},
		{"view not in the file", tool("SELECT * FROM other_view", ""), "line 10: tool \"t1\": sql: relation other_view is not a managed view of schema agent_mv"},
		{"denied function", tool("SELECT pg_read_file('/etc/passwd') FROM rollup", ""), "line 10: tool \"t1\": sql: function pg_read_file is not allowed"},
		{"second statement", tool("'SELECT 1 FROM rollup; DROP TABLE rollup'", ""), "line 10: tool \"t1\": sql: expected exactly one statement"},
		{"unused parameter", tool("SELECT 1 FROM rollup", "    parameters: [{name: id, type: integer}]\n"), "line 10: tool \"t1\": sql: parameter \"id\" is declared but the SQL never uses it"},
		{"missing parameter", tool("SELECT 1 FROM rollup WHERE id = @idd", "    parameters: [{name: id, type: integer}]\n"), "placeholder @idd is not a declared parameter (declared: @id)"},
		{"unknown type", tool("SELECT @id", "    parameters:\n      - name: id\n        type: uuid\n"), "line 12: tool \"t1\": parameter \"id\": unknown type \"uuid\""},
		{"unknown parameter key", tool("SELECT @id", "    parameters:\n      - name: id\n        type: integer\n        maximum: 3\n"), "line 14: unknown key \"maximum\" in tool \"t1\": parameters[0]"},
		{"unknown tool key", "tools:\n  - name: t1\n    description: d\n    sql: SELECT 1\n    param: []\n", "line 11: unknown key \"param\" in tool \"t1\"; did you mean \"parameters\"?"},
		{"default of the wrong type", tool("SELECT @id", "    parameters: [{name: id, type: integer, default: many}]\n"), "parameter \"id\": default: want a number, got a string"},
		{"both sql and sql_file", tool("SELECT 1", "    sql_file: x.sql\n"), "line 11: tool \"t1\": give either sql or sql_file, not both"},
		{"no sql", "tools:\n  - name: t1\n    description: d\n", "line 8: tool \"t1\": sql (one SELECT over the managed views) or sql_file is required"},
		{"missing sql_file", "tools:\n  - name: t1\n    description: d\n    sql_file: nope.sql\n", "line 10: tool \"t1\": sql_file"},
		{"duplicate tool", tool("SELECT 1", "") + "  - name: t1\n    description: d\n    sql: SELECT 2\n", "line 11: tool \"t1\" is already defined at line 8"},
		{"built-in name", "tools:\n  - name: query_view\n    description: d\n    sql: SELECT 1\n", "tool name \"query_view\" is a built-in runtime tool"},
		{"tools not a list", "tools: {}\n", "line 7: tools: tools must be a list of tools"},
		{"tool not a mapping", "tools: [t1]\n", "line 7: tools[0] must be a mapping with name, description, sql and parameters, got str \"t1\""},
		{"no name", "tools:\n  - description: d\n    sql: SELECT 1\n", "line 8: tools[0]: name is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeProject(t, toolsHead+tc.yaml, toolsFiles)
			_, err := LoadConfig(path)
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadConfig error = %v, want a ConfigError containing %q", err, tc.want)
			}
		})
	}
}
