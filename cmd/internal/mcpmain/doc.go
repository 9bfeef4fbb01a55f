// Package mcpmain is the shared main of the seed-named stdio MCP servers
// (agent-materialize-runtime-mcp and agent-materialize-setup-mcp), and the garbage collector
// settings of every MCP server process (TuneGC, used by agent-mv mcp and serve too).
package mcpmain
