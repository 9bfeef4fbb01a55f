package refresh

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ViewStatus is the freshness and last refresh of one managed view.
type ViewStatus struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Upstream    []string `json:"upstream"`
	Populated   bool     `json:"populated"`
	Running     bool     `json:"running"` // a refresh holds the view's advisory lock right now
	// RowsEstimate is rows_after of the last successful refresh, else pg_class.reltuples.
	RowsEstimate *int64 `json:"rows_estimate,omitempty"`

	LastStatus      string     `json:"last_status,omitempty"` // success | failed, from refresh_history
	LastStartedAt   *time.Time `json:"last_started_at,omitempty"`
	LastFinishedAt  *time.Time `json:"last_finished_at,omitempty"`
	LastDurationMs  *float64   `json:"last_duration_ms,omitempty"`
	LastMode        string     `json:"last_mode,omitempty"`
	LastModeReason  string     `json:"last_mode_reason,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
	LastRowsAfter   *int64     `json:"last_rows_after,omitempty"`
	LastSuccessAt   *time.Time `json:"last_success_at,omitempty"`
	MaxStaleness    string     `json:"max_staleness,omitempty"`
	MinRefreshEvery string     `json:"min_refresh_interval,omitempty"`
	// DataAsOf is the oldest successful refresh among the view and all its upstream views:
	// the view's contents are at least this old.
	DataAsOf *time.Time `json:"data_as_of,omitempty"`
	// Stale is true when max_staleness is set and DataAsOf is older than it (or the view was
	// never refreshed), or when an upstream view is stale.
	Stale       bool   `json:"stale"`
	StaleReason string `json:"stale_reason,omitempty"`
}

// statusSQL reads everything in one round trip, O(number of views): no count(*) on any view.
// The running flag comes from pg_locks: refresh_view holds
// pg_advisory_xact_lock(hashtext('agentmv:' || schema), hashtext(view)) while it refreshes.
const statusSQL = `
WITH last AS (
  SELECT DISTINCT ON (h.view_name) h.view_name, h.status, h.started_at, h.finished_at,
         extract(epoch FROM (h.finished_at - h.started_at)) * 1000 AS duration_ms,
         h.mode, h.mode_reason, h.error, h.rows_after
    FROM %[1]s h
   WHERE h.status IN ('success', 'failed')
   ORDER BY h.view_name, h.started_at DESC, h.id DESC
), ok AS (
  SELECT DISTINCT ON (h.view_name) h.view_name, h.finished_at, h.rows_after
    FROM %[1]s h
   WHERE h.status = 'success'
   ORDER BY h.view_name, h.started_at DESC, h.id DESC
)
SELECT v.name, coalesce(v.description, ''),
       coalesce((SELECT array_agg(l.source_name ORDER BY l.source_name) FROM %[2]s l
                  WHERE l.view_name = v.name AND l.source_kind = 'view'), '{}'),
       coalesce(c.relispopulated, false),
       EXISTS (SELECT 1 FROM pg_catalog.pg_locks k
                WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 2
                  AND k.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                  AND k.classid = hashtext('agentmv:' || $1)::oid
                  AND k.objid = hashtext(v.name)::oid),
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
       last.status, last.started_at, last.finished_at, last.duration_ms::float8, last.mode,
       last.mode_reason, last.error, last.rows_after,
       ok.finished_at, ok.rows_after,
       v.max_staleness::text, v.min_refresh_interval::text,
       CASE WHEN v.max_staleness IS NOT NULL
            THEN ok.finished_at IS NULL OR ok.finished_at < now() - v.max_staleness END
  FROM %[3]s v
  LEFT JOIN pg_catalog.pg_class c
         ON c.relname = v.name AND c.relkind = 'm'
        AND c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)
  LEFT JOIN last ON last.view_name = v.name
  LEFT JOIN ok ON ok.view_name = v.name
 ORDER BY v.name`

// Status returns the status of every managed view, sorted by name.
func (c *Client) Status(ctx context.Context) ([]ViewStatus, error) {
	q := fmt.Sprintf(statusSQL,
		pgx.Identifier{c.Schema, "refresh_history"}.Sanitize(),
		pgx.Identifier{c.Schema, "lineage"}.Sanitize(),
		pgx.Identifier{c.Schema, "views"}.Sanitize())
	rows, err := c.DB.Query(ctx, q, c.Schema)
	if err != nil {
		return nil, fmt.Errorf("read status of %s: %w (run `agent-mv apply` first, and check that the runtime role can read %s)", c.Schema, err, c.Schema)
	}
	var out []ViewStatus
	for rows.Next() {
		var (
			s         ViewStatus
			reltuples *int64
			okRows    *int64
			lastSt    *string
			mode      *string
			reason    *string
			lastErr   *string
			maxStale  *string
			minEvery  *string
			ownStale  *bool
		)
		if err := rows.Scan(&s.Name, &s.Description, &s.Upstream, &s.Populated, &s.Running, &reltuples,
			&lastSt, &s.LastStartedAt, &s.LastFinishedAt, &s.LastDurationMs, &mode, &reason, &lastErr, &s.LastRowsAfter,
			&s.LastSuccessAt, &okRows, &maxStale, &minEvery, &ownStale); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read status of %s: %w", c.Schema, err)
		}
		s.LastStatus, s.LastMode, s.LastModeReason, s.LastError = deref(lastSt), deref(mode), deref(reason), deref(lastErr)
		s.MaxStaleness, s.MinRefreshEvery = deref(maxStale), deref(minEvery)
		s.RowsEstimate = okRows
		if s.RowsEstimate == nil && s.Populated {
			s.RowsEstimate = reltuples
		}
		if ownStale != nil && *ownStale {
			s.Stale = true
			if s.LastSuccessAt == nil {
				s.StaleReason = "never refreshed successfully"
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
