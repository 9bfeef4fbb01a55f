// Command agent-materialize-runtime-mcp serves agentmv's runtime tools (list_views,
// describe_view, query_view, refresh_view, get_lineage) over stdio as the runtime role.
//
// It reads ./.env (the environment wins), then AGENT_MV_RUNTIME_URL (required) and
// AGENT_MV_TARGET_SCHEMA (default agent_mv), and refuses to start when the role can read a
// base table or write anything. `agent-mv mcp runtime` is the same server with HTTP support.
package main
