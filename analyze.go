package agentmv

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/lineage"
)

// analyze parses every configured view and resolves its lineage against the database inside
// tx: the desired state of the plan, in config order.
func (p *Project) analyze(ctx context.Context, tx pgx.Tx) ([]Step, error) {
	n := p.Names()
	managed := map[string]bool{}
	for _, v := range p.cfg.Views {
		managed[v.Name] = true
	}
	// Unqualified names resolve like this: the managed views first, then the admin's own
	// search_path (the one the view would be created with).
	if err := setLineageSearchPath(ctx, tx, n.Schema); err != nil {
		return nil, err
	}
	resolver := lineage.NewPgxResolver(tx)
	var out []Step
	for _, v := range p.cfg.Views {
		a, err := lineage.Analyze(ctx, v.SQL, lineage.Options{
			TargetSchema: n.Schema,
			Managed:      func(name string) bool { return managed[name] },
			Resolver:     resolver,
		})
		if err != nil {
			return nil, fmt.Errorf("view %s (%s, line %d of %s): %w", v.Name, v.SQLFile, v.Line, p.cfg.Path, err)
		}
		s := Step{View: v.Name, Hash: a.Hash, body: a.Deparsed}
		for _, t := range a.Tables {
			s.Tables = append(s.Tables, boundary.Relation{Schema: t.Schema, Name: t.Name, Kind: t.Kind})
		}
		s.Upstream = append(s.Upstream, a.Views...)
		sort.Strings(s.Upstream)
		for _, c := range a.Columns {
			s.Columns = append(s.Columns, boundary.ColumnEdge{ViewColumn: c.ViewColumn, SourceSchema: c.SourceSchema, SourceRelation: c.SourceRelation, SourceColumn: c.SourceColumn})
		}
		for _, ix := range v.Indexes {
			s.Indexes = append(s.Indexes, boundary.Index{Name: ix.Name(v.Name), Columns: ix.Columns, Unique: ix.Unique})
		}
		s.record = boundary.ViewRecord{Name: v.Name, Description: v.Description, SQLHash: a.Hash, Indexes: s.Indexes,
			MinRefreshInterval: durPtr(v.MinRefreshInterval), MaxStaleness: durPtr(v.MaxStaleness)}
		out = append(out, s)
	}
	return out, nil
}

// setLineageSearchPath puts <S> in front of the session's search_path for the rest of tx.
func setLineageSearchPath(ctx context.Context, tx pgx.Tx, schema string) error {
	_, err := tx.Exec(ctx, `SELECT pg_catalog.set_config('search_path',
		$1 || coalesce(', ' || nullif(pg_catalog.current_setting('search_path'), ''), ''), true)`,
		pgx.Identifier{schema}.Sanitize())
	if err != nil {
		return fmt.Errorf("set search_path for lineage resolution: %w", err)
	}
	return nil
}

func durPtr(d time.Duration) *time.Duration {
	if d <= 0 {
		return nil
	}
	return &d
}
