// Package skills embeds agentmv's agent skills, slash commands and .mcp.json template, and
// installs them into a project's .claude/ directory as plain copies (used by `agent-mv init`).
package skills
