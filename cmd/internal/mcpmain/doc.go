// Package mcpmain is the shared main of the seed-named stdio MCP servers
// (agent-materialize-runtime-mcp and agent-materialize-setup-mcp).
package mcpmain
