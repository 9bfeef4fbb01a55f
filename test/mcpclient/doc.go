// Package mcpclient holds the external MCP client test (a Node script using the official
// TypeScript SDK) and the database fixture shared by the MCP tests of agentmv.
package mcpclient
