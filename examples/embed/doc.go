// Command embed is a host application that serves its own MCP tool next to agentmv's runtime
// tools on one go-sdk server. Run it with AGENT_MV_RUNTIME_URL set; it speaks stdio.
package main
