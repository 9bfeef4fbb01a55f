package refresh

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentmv/agentmv/boundary"
)

// ViewStatus is the freshness and last refresh of one managed view.
type ViewStatus struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Strategy is the view's refresh_strategy: "full" or "incremental".
	Strategy  string   `json:"refresh_strategy"`
	Upstream  []string `json:"upstream"`
	Populated bool     `json:"populated"`
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
	// RefreshEvery is the view's schedule (refresh_every; 0: none). NextDueAt is when the
	// scheduler refreshes it next: when its data (DataAsOf) gets RefreshEvery old; nil without
	// a schedule, and when it is due now (never refreshed, or not populated).
	RefreshEvery time.Duration `json:"refresh_every_ns,omitempty"`
	NextDueAt    *time.Time    `json:"next_due_at,omitempty"`
}

// withApplyHint adds hint (what to run) to err only when Postgres says agentmv's objects are
// missing or unreadable (undefined table, schema or function; permission denied). Any other
// failure, such as the database being down or refusing the login, is reported as it is: "run
// apply" would send the operator the wrong way.
func withApplyHint(err error, hint string) error {
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	if errors.As(err, &pgErr) && !errors.As(err, &connErr) {
		switch pgErr.Code {
		case "42P01", "3F000", "42883", "42501":
			return fmt.Errorf("%w (%s)", err, hint)
		}
	}
	return err
}

// Status returns the status of every managed view, sorted by name, in one query whose cost
// grows with the number of views (never with their rows: no count(*); see
// boundary.ReadViewStates). Running reflects the refresh lock; a refresh that is still running
// is otherwise invisible (its history row is not committed yet), so Last* always describe the
// last finished refresh.
func (c *Client) Status(ctx context.Context) ([]ViewStatus, error) {
	n, err := c.names()
	if err != nil {
		return nil, err
	}
	states, err := boundary.ReadViewStates(ctx, c.DB, n)
	if err != nil {
		return nil, withApplyHint(err, fmt.Sprintf("run `agent-mv apply` first, and check that the runtime role can read %s", c.Schema))
	}
	out := make([]ViewStatus, 0, len(states))
	for _, st := range states {
		s := ViewStatus{Name: st.Name, Description: st.Description, Strategy: st.Strategy, Upstream: st.Upstream, Populated: st.Populated,
			RunningSince: st.RunningSince, LastSuccessAt: st.LastSuccessAt,
			MaxStaleness: st.MaxStaleness, MinRefreshEvery: st.MinRefreshInterval}
		if st.RunningPID != 0 {
			s.Running, s.RunningPID = true, st.RunningPID
		}
		if l := st.Last; l != nil {
			s.LastStatus, s.LastStartedAt, s.LastFinishedAt, s.LastDurationMs = l.Status, &l.StartedAt, l.FinishedAt, l.DurationMs
			s.LastMode, s.LastModeReason, s.LastError, s.LastSQLState, s.LastRowsAfter = l.Mode, l.ModeReason, l.Error, l.SQLState, l.RowsAfter
		}
		s.RowsEstimate = st.LastSuccessRows
		if s.RowsEstimate == nil && s.Populated {
			s.RowsEstimate = st.Reltuples
		}
		if st.OwnStale {
			s.Stale = true
			if s.LastSuccessAt == nil {
				s.StaleReason = "never refreshed successfully (max_staleness " + s.MaxStaleness + ")"
			} else {
				s.StaleReason = "last successful refresh is older than max_staleness " + s.MaxStaleness
			}
		}
		if st.RefreshEvery != nil {
			s.RefreshEvery = *st.RefreshEvery
		}
		out = append(out, s)
	}
	propagate(out)
	for i := range out {
		if s := &out[i]; s.RefreshEvery > 0 && s.Populated && s.DataAsOf != nil {
			due := s.DataAsOf.Add(s.RefreshEvery)
			s.NextDueAt = &due
		}
	}
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
