package refresh

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
)

// ViewStatus is the freshness and last refresh of one managed view.
type ViewStatus struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Upstream    []string `json:"upstream"`
	Populated   bool     `json:"populated"`
	// Running is true while some session holds the view's refresh lock (a refresh is in
	// progress); RunningPID and RunningSince (its transaction start, when visible to the
	// caller) say which.
	Running      bool       `json:"running"`
	RunningPID   int32      `json:"running_pid,omitempty"`
	RunningSince *time.Time `json:"running_since,omitempty"`
	// RowsEstimate is rows_after of the last successful refresh, else pg_class.reltuples.
	RowsEstimate *int64 `json:"rows_estimate,omitempty"`

	LastStatus      string     `json:"last_status,omitempty"` // success | failed, from refresh_history
	LastStartedAt   *time.Time `json:"last_started_at,omitempty"`
	LastFinishedAt  *time.Time `json:"last_finished_at,omitempty"`
	LastDurationMs  *float64   `json:"last_duration_ms,omitempty"`
	LastMode        string     `json:"last_mode,omitempty"`
	LastModeReason  string     `json:"last_mode_reason,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
	LastSQLState    string     `json:"last_sqlstate,omitempty"`
	LastRowsAfter   *int64     `json:"last_rows_after,omitempty"`
	LastSuccessAt   *time.Time `json:"last_success_at,omitempty"`
	MaxStaleness    string     `json:"max_staleness,omitempty"`
	MinRefreshEvery string     `json:"min_refresh_interval,omitempty"`
	// DataAsOf is the oldest successful refresh among the view and all its upstream views:
	// the view's contents are at least this old.
	DataAsOf *time.Time `json:"data_as_of,omitempty"`
	// Stale is true when max_staleness is set and the view's last successful refresh is older
	// than it (or there is none), or when an upstream view is stale (transitively).
	Stale       bool   `json:"stale"`
	StaleReason string `json:"stale_reason,omitempty"`
}

// statusSQL reads everything in one round trip, O(number of views): for each view one index
// probe of refresh_history (view_name, started_at DESC) for the last finished refresh and one
// for the last success, its pg_class row, and the refresh locks in pg_locks. It never counts
// the rows of a view (RowsEstimate is rows_after or reltuples). The running refreshes come
// from boundary.RunningRefreshesSQL (the advisory lock refresh_view holds while it refreshes),
// embedded as a CTE. $1 is the schema.
const statusSQL = `
WITH running AS (%[4]s)
SELECT v.name, v.description,
       coalesce((SELECT array_agg(l.source_name ORDER BY l.source_name) FROM %[2]s l
                  WHERE l.view_name = v.name AND l.source_kind = 'view'), '{}'),
       coalesce(c.relispopulated, false),
       r.pid, r.since,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
       last.status, last.started_at, last.finished_at,
       (extract(epoch FROM (last.finished_at - last.started_at)) * 1000)::float8,
       last.mode, last.mode_reason, last.error, last.sqlstate, last.rows_after,
       ok.finished_at, ok.rows_after,
       v.max_staleness::text, v.min_refresh_interval::text,
       CASE WHEN v.max_staleness IS NOT NULL
            THEN ok.finished_at IS NULL OR ok.finished_at < now() - v.max_staleness END
  FROM %[3]s v
  LEFT JOIN pg_catalog.pg_class c
         ON c.relname = v.name AND c.relkind = 'm'
        AND c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1)
  LEFT JOIN LATERAL (SELECT running.pid, running.since FROM running
                      WHERE running.view_name = v.name LIMIT 1) r ON true
  LEFT JOIN LATERAL (SELECT h.status, h.started_at, h.finished_at, h.mode, h.mode_reason,
                            h.error, h.sqlstate, h.rows_after
                       FROM %[1]s h
                      WHERE h.view_name = v.name AND h.status IN ('success', 'failed')
                      ORDER BY h.started_at DESC, h.id DESC LIMIT 1) last ON true
  LEFT JOIN LATERAL (SELECT h.finished_at, h.rows_after
                       FROM %[1]s h
                      WHERE h.view_name = v.name AND h.status = 'success'
                      ORDER BY h.started_at DESC, h.id DESC LIMIT 1) ok ON true
 ORDER BY v.name`

// statusQuery builds statusSQL for a quoted schema.
func statusQuery(schema string) string {
	return fmt.Sprintf(statusSQL,
		pgx.Identifier{schema, "refresh_history"}.Sanitize(),
		pgx.Identifier{schema, "lineage"}.Sanitize(),
		pgx.Identifier{schema, "views"}.Sanitize(),
		fmt.Sprintf(boundary.RunningRefreshesSQL, pgx.Identifier{schema}.Sanitize()))
}

// Status returns the status of every managed view, sorted by name, in one query whose cost
// grows with the number of views (never with their rows: no count(*)). Running reflects the
// refresh lock; a refresh that is still running is otherwise invisible (its history row is not
// committed yet), so Last* always describe the last finished refresh.
func (c *Client) Status(ctx context.Context) ([]ViewStatus, error) {
	if _, err := c.names(); err != nil {
		return nil, err
	}
	rows, err := c.DB.Query(ctx, statusQuery(c.Schema), c.Schema)
	if err != nil {
		return nil, fmt.Errorf("read status of %s: %w (run `agent-mv apply` first, and check that the runtime role can read %s)", c.Schema, err, c.Schema)
	}
	defer rows.Close()
	var out []ViewStatus
	for rows.Next() {
		var (
			s         ViewStatus
			pid       *int32
			reltuples *int64
			okRows    *int64
			lastSt    *string
			mode      *string
			reason    *string
			lastErr   *string
			sqlstate  *string
			maxStale  *string
			minEvery  *string
			ownStale  *bool
		)
		if err := rows.Scan(&s.Name, &s.Description, &s.Upstream, &s.Populated, &pid, &s.RunningSince, &reltuples,
			&lastSt, &s.LastStartedAt, &s.LastFinishedAt, &s.LastDurationMs, &mode, &reason, &lastErr, &sqlstate, &s.LastRowsAfter,
			&s.LastSuccessAt, &okRows, &maxStale, &minEvery, &ownStale); err != nil {
			return nil, fmt.Errorf("read status of %s: %w", c.Schema, err)
		}
		if pid != nil {
			s.Running, s.RunningPID = true, *pid
		}
		s.LastStatus, s.LastMode, s.LastModeReason = deref(lastSt), deref(mode), deref(reason)
		s.LastError, s.LastSQLState = deref(lastErr), deref(sqlstate)
		s.MaxStaleness, s.MinRefreshEvery = deref(maxStale), deref(minEvery)
		s.RowsEstimate = okRows
		if s.RowsEstimate == nil && s.Populated {
			s.RowsEstimate = reltuples
		}
		if ownStale != nil && *ownStale {
			s.Stale = true
			if s.LastSuccessAt == nil {
				s.StaleReason = "never refreshed successfully (max_staleness " + s.MaxStaleness + ")"
			} else {
				s.StaleReason = "last successful refresh is older than max_staleness " + s.MaxStaleness
			}
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read status of %s: %w", c.Schema, err)
	}
	propagate(out)
	return out, nil
}

// propagate makes a view at least as stale as its stalest upstream view and computes DataAsOf.
func propagate(vs []ViewStatus) {
	idx := map[string]int{}
	for i, v := range vs {
		idx[v.Name] = i
	}
	state := map[string]int{} // 0 unvisited, 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		v := &vs[i]
		if state[v.Name] != 0 {
			return
		}
		state[v.Name] = 1
		v.DataAsOf = v.LastSuccessAt
		var staleUps []string
		for _, u := range v.Upstream {
			j, ok := idx[u]
			if !ok || state[u] == 1 {
				continue
			}
			visit(j)
			up := vs[j]
			if up.Stale {
				staleUps = append(staleUps, u)
			}
			if v.DataAsOf != nil && (up.DataAsOf == nil || up.DataAsOf.Before(*v.DataAsOf)) {
				v.DataAsOf = up.DataAsOf
			}
		}
		if len(staleUps) > 0 {
			sort.Strings(staleUps)
			reason := "upstream view " + strings.Join(staleUps, ", ") + " is stale"
			if v.Stale {
				v.StaleReason += "; " + reason
			} else {
				v.Stale, v.StaleReason = true, reason
			}
		}
		state[v.Name] = 2
	}
	for i := range vs {
		visit(i)
	}
}
