// Package mcpclient holds the external MCP client test (a Node script using the official
// TypeScript SDK), the database fixture shared by the MCP tests of agentmv and Connect (an
// in-memory client session on a server).
package mcpclient
