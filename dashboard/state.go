package dashboard

import "time"

// State is everything the dashboard shows. The caller (the root agentmv package) reads it
// from the database; Render never touches a database or the clock.
type State struct {
	// GeneratedAt is "now" for the page: ages ("6h ago") are computed relative to it.
	GeneratedAt time.Time
	// Schema is the target schema, e.g. "agent_mv".
	Schema string
	// Views are the managed views, in any order (Render sorts by name).
	Views []View
	// History holds refresh runs, in any order (Render sorts newest first).
	History []Run
	// Edges are lineage edges (source → view). Base tables appear in the graph only
	// through edges whose FromKind is "table".
	Edges []Edge
	// Tools are the tools declared in materialize.yaml (`tools:`), in any order (Render sorts
	// by name). The section is left out when there are none.
	Tools []Tool
}

// Tool is one declared tool: a named, parameterized query over the managed views.
type Tool struct {
	Name, Description string
	// Reads are the managed views its SQL reads.
	Reads []string
	// Parameters are its arguments, in order.
	Parameters []Param
}

// Param is one parameter of a declared tool.
type Param struct {
	// Type is the declared type (string, integer, number, boolean, date, timestamp, or one
	// of them followed by [] for an array).
	Name, Type, Description string
	Required                bool
	// Default is the default value as written for people ("" when none).
	Default string
}

// View is the current state of one managed materialized view.
type View struct {
	Name        string
	Description string
	// Columns are the described columns (materialize.yaml's columns:), in the view's order.
	Columns []Column
	// Populated reports whether the materialized view holds data (pg_matviews.ispopulated).
	Populated bool
	// RowsAfter is the row count recorded by the last successful refresh, nil if unknown.
	RowsAfter *int64
	// LastStatus is the status of the latest history row: running, success or failed ("" if none).
	LastStatus string
	// LastError is the error of the latest failed refresh, "" if none.
	LastError string
	// LastMode is concurrent or blocking ("" if never refreshed).
	LastMode string
	// ModeReason says why that mode was chosen, e.g. "no usable unique index".
	ModeReason string
	// LastRefreshedAt is when the latest successful refresh finished, nil if never.
	LastRefreshedAt *time.Time
	// LastDurationMs is the duration of the latest finished refresh, nil if unknown.
	LastDurationMs *int64
	// Stale is true when the view is older than MaxStaleness (the caller decides).
	Stale bool
	// MaxStaleness is the configured max_staleness, 0 if none.
	MaxStaleness time.Duration
	// RefreshEvery is the view's schedule (refresh_every), 0 if none; NextDueAt is when the
	// scheduler refreshes it next (nil: due now, or no schedule).
	RefreshEvery time.Duration
	NextDueAt    *time.Time
	// Running is true while a refresh of this view is in progress.
	Running bool
	// Upstream lists the sources of the view: base tables as schema.table, views by bare name.
	Upstream []string
}

// Column is one described column of a view: its name and what it means.
type Column struct {
	Name, Description string
}

// Run is one row of refresh history.
type Run struct {
	View       string
	StartedAt  time.Time
	FinishedAt *time.Time
	// Status is running, success or failed.
	Status     string
	DurationMs *int64
	RowsAfter  *int64
	// Mode is concurrent or blocking ("" if unknown).
	Mode  string
	Error string
}

// Edge is one lineage edge: From feeds view To.
type Edge struct {
	// From is a base table as schema.table, or a view's bare name.
	From string
	// To is the bare name of the dependent view.
	To string
	// FromKind is "table" or "view".
	FromKind string
	// FromRelkind says what a "table" source is in the catalog: "table", "partitioned table",
	// "view" (a plain view, not managed here), "materialized view", "foreign table"; "" when
	// unknown (then it is called a base table).
	FromRelkind string
}
