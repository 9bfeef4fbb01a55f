// Command agent-mv is the reference CLI of agentmv: it scaffolds a project, applies
// materialize.yaml to Postgres, and checks, refreshes and serves the curated views.
package main
