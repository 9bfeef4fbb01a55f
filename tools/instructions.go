package tools

import (
	"fmt"
	"strings"
)

// runtimeInstructions is what the runtime server tells a client at initialize: what the tools
// are for and the order to use them in. It names only the runtime tools the server has (an
// agent may be served a selection), and points at the declared tools when there are any.
func runtimeInstructions(schema string, has func(tool string) bool, declared bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "agentmv runtime server: read-only access to the curated materialized views of schema %s, as a Postgres role that cannot read base tables.", schema)
	var start []string
	if has(ToolListViews) {
		start = append(start, ToolListViews+" (what each view holds, how fresh it is)")
	}
	if has(ToolDescribeView) {
		start = append(start, ToolDescribeView+"(name) for its columns and what they mean")
	}
	if len(start) > 0 {
		b.WriteString("\nStart with " + strings.Join(start, ", then ") + ".")
	}
	if declared {
		b.WriteString("\nThe other tools answer specific questions with typed parameters: prefer one that matches the question")
		if has(ToolQueryView) {
			b.WriteString(" over writing SQL")
		}
		b.WriteString(".")
	}
	if has(ToolQueryView) {
		fmt.Fprintf(&b, "\n%s(sql, limit) runs one plain SELECT over those views (write view names unqualified or as %s.name; JOIN, CTEs and aggregates are fine); at most limit rows come back, with truncated: true when cut.", ToolQueryView, schema)
	}
	var then []string
	if has(ToolRefreshView) {
		then = append(then, "when a view is stale, "+ToolRefreshView+"(name) refreshes it")
	}
	if has(ToolGetLineage) {
		then = append(then, ToolGetLineage+"(name) says where a view's data comes from")
	}
	if len(then) > 0 {
		s := strings.Join(then, "; ")
		b.WriteString("\n" + strings.ToUpper(s[:1]) + s[1:] + ".")
	}
	b.WriteString("\nErrors are {error_type, message, hint}: follow the hint.")
	return b.String()
}

// setupInstructions is what the setup server tells a client at initialize. It names only setup
// tools and the agent-mv CLI.
func setupInstructions(schema string) string {
	return fmt.Sprintf(`agentmv setup server: privileged and used once, to choose the curated materialized views an agent will later read (in schema %[1]s) through the separate runtime server.
Workflow: %[2]s to learn what the application asks; %[3]s and %[4]s(schema); %[5]s(name) and %[6]s(name); %[7]s(sql) to try each candidate view on real rows; %[8]s(name, sql, rationale) for each view the user approves; %[9]s(approved_names) to write them to materialize.yaml.
Then the operator runs agent-mv plan, agent-mv apply (--yes without a terminal) and agent-mv doctor.
Table names with capitals must be double-quoted in SQL ("UserEvents"). System catalogs are not readable here. Errors are {error_type, message, hint}: follow the hint.`,
		schema, ToolReadRepoFiles, ToolListSchemas, ToolListTables, ToolDescribeTable, ToolProfileTable,
		ToolSampleQuery, ToolProposeView, ToolFinalizeConfig)
}
