package tools

import "fmt"

// runtimeInstructions is what the runtime server tells a client at initialize: what the tools
// are for and the order to use them in. It names only runtime tools.
func runtimeInstructions(schema string) string {
	return fmt.Sprintf(`agentmv runtime server: read-only access to the curated materialized views of schema %[1]s, as a Postgres role that cannot read base tables.
Start with %[2]s (what each view holds, how fresh it is), then %[3]s(name) for its columns and what they mean.
%[4]s(sql, limit) runs one plain SELECT over those views (write view names unqualified or as %[1]s.name; JOIN, CTEs and aggregates are fine); at most limit rows come back, with truncated: true when cut.
When a view is stale, %[5]s(name) refreshes it; %[6]s(name) says where its data comes from.
Errors are {error_type, message, hint}: follow the hint.`,
		schema, ToolListViews, ToolDescribeView, ToolQueryView, ToolRefreshView, ToolGetLineage)
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
