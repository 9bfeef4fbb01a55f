// Package bench measures what agentmv adds on top of Postgres, each result as a ratio against
// a baseline timed in the same run (query_view, list_views, apply, memory); see BENCHMARKS.md.
package bench
