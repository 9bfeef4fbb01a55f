// Command agent-materialize-runtime-mcp serves agentmv's runtime tools (list_views,
// describe_view, query_view, refresh_view, get_lineage) over stdio as the runtime role.
//
// Run it from the project directory. It resolves its settings exactly as `agent-mv mcp
// runtime` does (agentmv.RuntimeSettings: environment > ./.env > ./materialize.yaml's
// target_schema > default; the file is optional): AGENT_MV_RUNTIME_URL is required, the
// schema defaults to agent_mv. It refuses to start when the role can read a base table or write
// anything. `agent-mv mcp runtime` is the same server with HTTP support.
package main
