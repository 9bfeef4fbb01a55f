package boundary

// statusMarkViewSQL is the status mark: a fingerprint of what ReadViewStates reads from the
// registry and the history. It changes when a refresh finishes (a history row is committed;
// ids grow), or an apply or drop changes the registry (rows come and go; applied_at moves).
// It reads one index probe and the small registry, never a view. Not covered: a refresh in
// progress (the lock), the clock (max_staleness), and overlapping refreshes whose first to
// start commits last (a history id is taken when a refresh starts, so max(id) does not move at
// that commit; refresh-all --parallel and the scheduler overlap refreshes of different views).
// Readers that cache the status bound those by time (tools: 1 s). An exact mark would have to
// count the recent history rows on every read, doubling its cost for a second of staleness.
// The text
// depends on no session setting (DateStyle, TimeZone): the same state reads the same in any
// session.
//
// It is a view owned by <O>, which owns the tables and is not subject to their row filters, so
// a reader pays no filter per row (the filters of issue 18 made the mark, read by every
// query_view, cost as much as the query). The mark is therefore of every view, not only of the
// views the reader may see, and it is an md5: a reader learns that some status changed, never
// which, how many views there are, or when — no more than pg_class and pg_stat_user_tables
// already show every role (a REFRESH changes a relation's relfilenode; refresh_history's insert
// counts). A change of another agent's view costs a reader one reread of its own status.
var statusMarkViewSQL = mustSQL("status_mark_view", `CREATE OR REPLACE VIEW {{.StatusMark}} WITH (security_barrier) AS
SELECT pg_catalog.md5(coalesce((SELECT max(h.id) FROM {{.History}} h), 0)::text || '/' ||
       (SELECT count(*)::text || '/' || coalesce(extract(epoch FROM max(v.applied_at)), 0)::text FROM {{.Views}} v)) AS mark`)

var statusMarkSQL = mustSQL("status_mark", `SELECT mark FROM {{.StatusMark}}`)

// StatusMarkSQL returns the statement (no parameters, one text column) whose value changes
// whenever the view states a reader cached may have changed; see statusMarkViewSQL. The
// runtime role and the agents' roles may run it.
func StatusMarkSQL(n Names) string { return statusMarkSQL.render(n) }
