// Package agentmv puts AI agents in front of Postgres through curated materialized views behind
// a two-role boundary enforced by Postgres: Open a project, Plan/Apply it, mount RuntimeTools.
package agentmv
