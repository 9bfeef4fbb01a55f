// Package reliability holds agentmv's fault and load tests: processes killed mid-apply and
// mid-refresh, concurrent applies, database restarts, MCP load and broken input, on real Postgres.
package reliability
