package agentmv

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/dashboard"
)

// DashboardState reads everything the dashboard shows, as the runtime role: per-view status
// and freshness, the last refreshes, the column meanings, the lineage edges and what their sources are. Six queries, O(views + history
// limit); no count(*) on any view. The declared tools come from materialize.yaml (what the
// runtime server serves), with the views each reads and its parameters.
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
	comments, err := boundary.ReadComments(ctx, pool, p.Names(), "")
	if err != nil {
		return s, fmt.Errorf("dashboard: %w", err)
	}
	for _, v := range st {
		dv := dashboard.View{
			Name: v.Name, Description: v.Description, Populated: v.Populated, RowsAfter: v.RowsEstimate,
			LastStatus: v.LastStatus, LastError: v.LastError, LastMode: v.LastMode, ModeReason: v.LastModeReason,
			LastRefreshedAt: v.LastFinishedAt, Stale: v.Stale, Running: v.Running, Upstream: v.Upstream,
			RefreshEvery: v.RefreshEvery, NextDueAt: v.NextDueAt,
		}
		for _, c := range comments[v.Name].Columns {
			if c.Comment != "" {
				dv.Columns = append(dv.Columns, dashboard.Column{Name: c.Name, Description: c.Comment})
			}
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
	history, err := boundary.ReadHistory(ctx, pool, p.Names(), dashboardHistoryRows)
	if err != nil {
		return s, fmt.Errorf("dashboard: %w", err)
	}
	for _, h := range history {
		r := dashboard.Run{View: h.View, StartedAt: h.StartedAt, FinishedAt: h.FinishedAt, Status: h.Status,
			RowsAfter: h.RowsAfter, Mode: h.Mode, Error: h.Error}
		if h.DurationMs != nil {
			ms := int64(math.Round(*h.DurationMs))
			r.DurationMs = &ms
		}
		s.History = append(s.History, r)
	}
	edges, err := boundary.ReadLineage(ctx, pool, p.Names())
	if err != nil {
		return s, fmt.Errorf("dashboard: %w", err)
	}
	// Ordered by source, then view (the drawing's input order).
	slices.SortStableFunc(edges, func(a, b boundary.LineageEdge) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.View, b.View))
	})
	var tables []string
	for _, e := range edges {
		if e.Kind == "table" {
			tables = append(tables, e.Source)
		}
	}
	kinds, err := boundary.SourceKinds(ctx, pool, tables)
	if err != nil {
		return s, fmt.Errorf("dashboard: %w", err)
	}
	for _, e := range edges {
		s.Edges = append(s.Edges, dashboard.Edge{From: e.Source, To: e.View, FromKind: e.Kind, FromRelkind: kinds[e.Source]})
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
	s.Tools = dashboardTools(p.cfg.Tools)
	return s, nil
}

// dashboardTools are the declared tools as the dashboard lists them: what the runtime server
// serves (materialize.yaml), with the views each reads and its parameters.
func dashboardTools(declared []ToolConfig) []dashboard.Tool {
	out := make([]dashboard.Tool, 0, len(declared))
	for _, tc := range declared {
		t := dashboard.Tool{Name: tc.Name, Description: tc.Description, Reads: tc.Reads}
		for _, p := range tc.Parameters {
			dp := dashboard.Param{Name: p.Name, Type: p.Type, Description: p.Description, Required: p.Required}
			if p.Default != nil {
				b, _ := json.Marshal(p.Default) // a YAML scalar or list (see yamlValue)
				dp.Default = string(b)
			}
			t.Parameters = append(t.Parameters, dp)
		}
		out = append(out, t)
	}
	return out
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
