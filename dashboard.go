package agentmv

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/dashboard"
)

// DashboardState reads everything the dashboard shows, as the runtime role: per-view status
// and freshness, the last refreshes, and the lineage edges. Four queries, O(views + history
// limit); no count(*) on any view.
func (p *Project) DashboardState(ctx context.Context, now time.Time) (dashboard.State, error) {
	pool, err := p.RuntimePool(ctx)
	if err != nil {
		return dashboard.State{}, err
	}
	c, err := p.Refresher(ctx)
	if err != nil {
		return dashboard.State{}, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return dashboard.State{}, err
	}
	schema := p.settings.TargetSchema
	s := dashboard.State{GeneratedAt: now, Schema: schema}
	for _, v := range st {
		dv := dashboard.View{
			Name: v.Name, Description: v.Description, Populated: v.Populated, RowsAfter: v.RowsEstimate,
			LastStatus: v.LastStatus, LastError: v.LastError, LastMode: v.LastMode, ModeReason: v.LastModeReason,
			LastRefreshedAt: v.LastFinishedAt, Stale: v.Stale, Running: v.Running, Upstream: v.Upstream,
		}
		if v.LastDurationMs != nil {
			ms := int64(*v.LastDurationMs + 0.5)
			dv.LastDurationMs = &ms
		}
		if v.MaxStaleness != "" {
			if cfgView, ok := p.cfg.View(v.Name); ok {
				dv.MaxStaleness = cfgView.MaxStaleness
			}
		}
		s.Views = append(s.Views, dv)
	}
	rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT view_name, started_at, finished_at, status,
		       (extract(epoch FROM finished_at - started_at) * 1000)::bigint, rows_after, coalesce(mode, ''), coalesce(error, '')
		  FROM %s ORDER BY started_at DESC, id DESC LIMIT $1`, pgx.Identifier{schema, "refresh_history"}.Sanitize()),
		dashboardHistoryRows)
	if err != nil {
		return s, fmt.Errorf("dashboard: read refresh history: %w", err)
	}
	var r dashboard.Run
	_, err = pgx.ForEachRow(rows, []any{&r.View, &r.StartedAt, &r.FinishedAt, &r.Status, &r.DurationMs, &r.RowsAfter, &r.Mode, &r.Error}, func() error {
		s.History = append(s.History, r)
		r = dashboard.Run{}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("dashboard: read refresh history: %w", err)
	}
	rows, err = pool.Query(ctx, fmt.Sprintf(`SELECT source_name, view_name, source_kind FROM %s ORDER BY 1, 2`,
		pgx.Identifier{schema, "lineage"}.Sanitize()))
	if err != nil {
		return s, fmt.Errorf("dashboard: read lineage: %w", err)
	}
	var e dashboard.Edge
	_, err = pgx.ForEachRow(rows, []any{&e.From, &e.To, &e.FromKind}, func() error {
		s.Edges = append(s.Edges, e)
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("dashboard: read lineage: %w", err)
	}
	// The dashboard lists every source of a view: base tables and upstream views.
	sources := map[string][]string{}
	for _, e := range s.Edges {
		sources[e.To] = append(sources[e.To], e.From)
	}
	for i := range s.Views {
		if src := sources[s.Views[i].Name]; len(src) > 0 {
			s.Views[i].Upstream = src
		}
	}
	return s, nil
}

// dashboardHistoryRows bounds the history read for the dashboard (sparklines of the last
// runs per view come from these rows).
const dashboardHistoryRows = 10000

// BuildDashboard writes the self-contained HTML dashboard to w.
func (p *Project) BuildDashboard(ctx context.Context, w io.Writer, now time.Time) error {
	s, err := p.DashboardState(ctx, now)
	if err != nil {
		return err
	}
	return dashboard.Render(w, s)
}
