package boundary

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ModeReasonCreated is the mode_reason of the history row apply writes for a view it created.
const ModeReasonCreated = "created WITH DATA by agent-mv apply"

var recordCreatedSQL = mustSQL("record_created", `
INSERT INTO {{.History}} (view_name, started_at, finished_at, status, rows_after, mode, mode_reason, called_by)
VALUES ($1, $2, pg_catalog.clock_timestamp(), 'success', $3, 'blocking', $4, session_user)`)

// RecordCreated writes a success row to <S>.refresh_history for a view apply just created
// WITH DATA, so status, freshness and the dashboard know when its contents were loaded.
func RecordCreated(ctx context.Context, tx pgx.Tx, n Names, view string, started time.Time, rows int64) error {
	if err := n.validSchema(); err != nil {
		return err
	}
	return exec(ctx, tx, "record creation of "+view, recordCreatedSQL.render(n), view, started, rows, ModeReasonCreated)
}

// HistoryRow is one row of <S>.refresh_history.
type HistoryRow struct {
	ID         int64
	View       string
	StartedAt  time.Time
	FinishedAt *time.Time
	Status     string   // running | success | failed
	DurationMs *float64 // finished_at - started_at in ms (exact to the µs); nil while running
	RowsAfter  *int64
	Mode       string // concurrent | blocking | incremental ("" if unknown)
	ModeReason string
	// RowsChanged and ChangesApplied: set by incremental views' refreshes (see RefreshResult).
	RowsChanged    *int64
	ChangesApplied *int64
	Error          string
	SQLState       string
	CalledBy       string
}

var readHistorySQL = mustSQL("read_history", `
SELECT id, view_name, started_at, finished_at, status,
       (extract(epoch FROM finished_at - started_at) * 1000)::float8, rows_after,
       coalesce(mode, ''), coalesce(mode_reason, ''), coalesce(error, ''), coalesce(sqlstate, ''),
       coalesce(called_by, ''),
       (pg_catalog.to_jsonb(h) ->> 'rows_changed')::bigint, (pg_catalog.to_jsonb(h) ->> 'changes_applied')::bigint
  FROM {{.History}} h ORDER BY started_at DESC, id DESC LIMIT $1`)

// ReadHistory returns the newest limit rows of <S>.refresh_history, newest first.
func ReadHistory(ctx context.Context, q Reader, n Names, limit int) ([]HistoryRow, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, readHistorySQL.render(n), limit)
	if err != nil {
		return nil, fmt.Errorf("read refresh history from %s: %w", n.Schema, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryRow, error) {
		var h HistoryRow
		err := r.Scan(&h.ID, &h.View, &h.StartedAt, &h.FinishedAt, &h.Status, &h.DurationMs, &h.RowsAfter,
			&h.Mode, &h.ModeReason, &h.Error, &h.SQLState, &h.CalledBy, &h.RowsChanged, &h.ChangesApplied)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("read refresh history from %s: %w", n.Schema, err)
	}
	return out, nil
}

// ViewState is what the registry, the history, the catalog and the refresh locks say about
// one registered view, read in one query by ReadViewStates.
type ViewState struct {
	Name        string
	Description string
	Upstream    []string // managed views it reads (lineage), sorted
	Populated   bool     // false also when the materialized view is missing
	// Strategy is StrategyFull or StrategyIncremental (refresh_strategy).
	Strategy string
	// RunningPID is the backend holding the view's refresh lock (0: none); RunningSince its
	// transaction start, when visible to the caller.
	RunningPID   int32
	RunningSince *time.Time
	Reltuples    *int64 // pg_class.reltuples, nil when unknown (never analysed) or missing

	// Last finished refresh (success or failed); Last is nil when there is none.
	Last *HistoryRow
	// LastSuccessAt and LastSuccessRows are from the last successful refresh.
	LastSuccessAt   *time.Time
	LastSuccessRows *int64

	MaxStaleness       string // interval as text, "" when unset
	MinRefreshInterval string
	RefreshEvery       *time.Duration // refresh_every; nil when unset
	// OwnStale: max_staleness is set and the last success is older than it (or there is none).
	OwnStale bool
}

// viewStatesSQL reads everything in one round trip, O(number of views): for each view one
// index probe of refresh_history (view_name, started_at DESC) for the last finished refresh and
// one for the last success, its pg_class row, and the refresh locks in pg_locks. It never
// counts the rows of a view. $1 is the schema.
var viewStatesSQL = mustSQL("view_states", `
WITH running AS ({{template "running_refreshes" .}})
SELECT v.name, v.description, {{template "strategy_of" "v"}},
       coalesce((SELECT array_agg(l.source_name ORDER BY l.source_name) FROM {{.Lineage}} l
                  WHERE l.view_name = v.name AND l.source_kind = 'view'), '{}'),
       coalesce(c.relispopulated, false),
       coalesce(r.pid, 0), r.since,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
       last.id, last.status, last.started_at, last.finished_at,
       (extract(epoch FROM (last.finished_at - last.started_at)) * 1000)::float8,
       coalesce(last.mode, ''), coalesce(last.mode_reason, ''), coalesce(last.error, ''),
       coalesce(last.sqlstate, ''), last.rows_after,
       ok.finished_at, ok.rows_after,
       coalesce(v.max_staleness::text, ''), coalesce(v.min_refresh_interval::text, ''),
       coalesce(v.max_staleness IS NOT NULL AND (ok.finished_at IS NULL OR ok.finished_at < now() - v.max_staleness), false),
       -- refresh_every through to_jsonb so that a schema not yet migrated to it still reads
       (pg_catalog.to_jsonb(v) ->> 'refresh_every')::interval
  FROM {{.Views}} v
  LEFT JOIN pg_catalog.pg_class c
         ON c.relname = v.name AND c.relkind = {{template "managed_relkind" "(pg_catalog.to_jsonb(v) ->> 'refresh_strategy')"}}
        AND c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1)
  LEFT JOIN LATERAL (SELECT running.pid, running.since FROM running
                      WHERE running.view_name = v.name LIMIT 1) r ON true
  LEFT JOIN LATERAL (SELECT h.id, h.status, h.started_at, h.finished_at, h.mode, h.mode_reason,
                            h.error, h.sqlstate, h.rows_after
                       FROM {{.History}} h
                      WHERE h.view_name = v.name AND h.status IN ('success', 'failed')
                      ORDER BY h.started_at DESC, h.id DESC LIMIT 1) last ON true
  LEFT JOIN LATERAL (SELECT h.finished_at, h.rows_after
                       FROM {{.History}} h
                      WHERE h.view_name = v.name AND h.status = 'success'
                      ORDER BY h.started_at DESC, h.id DESC LIMIT 1) ok ON true
 ORDER BY v.name`)

// ReadViewStates returns the state of every registered view, sorted by name, in one query
// whose cost grows with the number of views (never with their rows). A refresh that is still
// running shows only as RunningPID (its history row is not committed yet), so Last always
// describes the last finished refresh. The runtime role may call it.
func ReadViewStates(ctx context.Context, q Reader, n Names) ([]ViewState, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, viewStatesSQL.render(n), n.Schema)
	if err != nil {
		return nil, fmt.Errorf("read status of %s: %w", n.Schema, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ViewState, error) {
		var s ViewState
		var last HistoryRow
		var lastID *int64
		var lastStatus *string
		var lastStarted *time.Time
		err := r.Scan(&s.Name, &s.Description, &s.Strategy, &s.Upstream, &s.Populated, &s.RunningPID, &s.RunningSince, &s.Reltuples,
			&lastID, &lastStatus, &lastStarted, &last.FinishedAt, &last.DurationMs, &last.Mode, &last.ModeReason, &last.Error,
			&last.SQLState, &last.RowsAfter, &s.LastSuccessAt, &s.LastSuccessRows,
			&s.MaxStaleness, &s.MinRefreshInterval, &s.OwnStale, durationScanner{&s.RefreshEvery})
		if err != nil {
			return s, err
		}
		if lastID != nil {
			last.ID, last.View, last.Status, last.StartedAt = *lastID, s.Name, *lastStatus, *lastStarted
			s.Last = &last
		}
		return s, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read status of %s: %w", n.Schema, err)
	}
	return out, nil
}
