// Command agent-materialize-setup-mcp serves agentmv's setup tools (list_schemas,
// list_tables, describe_table, profile_table, sample_query, read_repo_files, propose_view,
// finalize_config) over stdio on the privileged DATABASE_URL, for the one-time onboarding.
//
// Run it from the project directory: it reads ./materialize.yaml and ./.env (the environment
// wins). `agent-mv mcp setup` is the same server with HTTP support.
package main
