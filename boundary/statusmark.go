package boundary

// statusMarkSQL fingerprints what ReadViewStates reads from the registry and the history: it
// changes when a refresh finishes (a history row is committed; ids grow), or an apply or drop
// changes the registry (rows come and go; applied_at moves). It reads one index probe and
// the small registry, never a view. Not covered: a refresh in progress (the lock), the clock
// (max_staleness) and, rarely, a long refresh committing a lower history id after a later
// one; readers that cache the status bound those by time. The text depends on no session
// setting (DateStyle, TimeZone): the same state reads the same in any session.
var statusMarkSQL = mustSQL("status_mark", `
SELECT coalesce((SELECT max(h.id) FROM {{.History}} h), 0)::text || '/' ||
       (SELECT count(*)::text || '/' || coalesce(extract(epoch FROM max(v.applied_at)), 0)::text FROM {{.Views}} v)`)

// StatusMarkSQL returns the statement (no parameters, one text column) whose value changes
// whenever the view states a reader cached may have changed; see statusMarkSQL. The runtime
// role may run it.
func StatusMarkSQL(n Names) string { return statusMarkSQL.render(n) }
