package agentmv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/lineage"
)

// analyze parses every configured view and resolves its lineage against the database inside
// tx: the desired state of the plan, in config order. A view whose SQL file is byte-identical
// to the one last applied (and still exists) keeps its recorded hash and lineage without being
// parsed: its materialized view's dependencies are fixed by OID at creation anyway.
func (p *Project) analyze(ctx context.Context, tx pgx.Tx, rec recordedState) ([]Step, error) {
	n := p.Names()
	// Unqualified names resolve like this: the managed views first, then the admin's own
	// search_path (the one the view would be created with).
	if err := setLineageSearchPath(ctx, tx, n.Schema); err != nil {
		return nil, err
	}
	recorded, err := p.recordedLineage(ctx, tx, rec)
	if err != nil {
		return nil, err
	}
	catalog, err := p.catalogLineage(ctx, tx, rec)
	if err != nil {
		return nil, err
	}
	resolver := lineage.NewPgxResolver(tx)
	managed := p.managedViews()
	var out []Step
	for _, v := range p.cfg.Views {
		if r, ok := rec.registry[v.Name]; ok && rec.exists[v.Name] && r.SourceHash != "" && r.SourceHash == sourceHash(v.SQL) &&
			r.Strategy() == strategyOf(v) {
			// The catalog's current names (a renamed base table keeps its OID), and the
			// lineage rows are rewritten only if they no longer match.
			s := Step{View: v.Name, Hash: r.SQLHash, reused: true}
			l := catalog[v.Name]
			s.Tables, s.Upstream = l.tables, l.views
			s.lineageStale = !sameSources(l, recorded[v.Name])
			p.fillConfigured(&s, v)
			if err := p.checkDescribedColumns(v, rec.comments[v.Name].Names()); err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		s, err := p.analyzeView(ctx, tx, v, resolver, managed)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// analyzeView parses one view body and resolves its lineage; managed reports whether a name
// is a view of materialize.yaml. An incremental view that reads no managed view is qualified
// now, so plan reports what it cannot maintain; one that does is qualified when it is
// created, after the views it reads exist.
func (p *Project) analyzeView(ctx context.Context, tx pgx.Tx, v ViewConfig, resolver lineage.Resolver, managed func(string) bool) (Step, error) {
	a, err := lineage.Analyze(ctx, v.SQL, lineage.Options{
		TargetSchema: p.settings.TargetSchema,
		Managed:      managed,
		Resolver:     resolver,
	})
	if err != nil {
		return Step{}, fmt.Errorf("view %s (%s, line %d of %s): %w", v.Name, v.SQLFile, v.Line, p.cfg.Path, err)
	}
	s := Step{View: v.Name, Hash: a.Hash, body: a.Deparsed, analysis: a}
	if strategyOf(v) == boundary.StrategyIncremental && len(a.Views) == 0 {
		if _, err := p.qualify(ctx, tx, a); err != nil {
			return Step{}, fmt.Errorf("view %s (%s, line %d of %s): %w", v.Name, v.SQLFile, v.Line, p.cfg.Path, err)
		}
	}
	for _, t := range a.Tables {
		s.Tables = append(s.Tables, boundary.Relation{Schema: t.Schema, Name: t.Name, Kind: t.Kind})
	}
	s.Upstream = append(s.Upstream, a.Views...)
	sort.Strings(s.Upstream)
	for _, c := range a.Columns {
		s.Columns = append(s.Columns, boundary.ColumnEdge{ViewColumn: c.ViewColumn, SourceSchema: c.SourceSchema, SourceRelation: c.SourceRelation, SourceColumn: c.SourceColumn})
	}
	p.fillConfigured(&s, v)
	if !slices.Contains(a.OutputColumns, "*") { // unknown columns: apply checks the created view
		if err := p.checkDescribedColumns(v, a.OutputColumns); err != nil {
			return Step{}, err
		}
	}
	return s, nil
}

// checkDescribedColumns says which entry of the view's columns: names no column of the view
// (have: its columns in order), with the file and line to fix.
func (p *Project) checkDescribedColumns(v ViewConfig, have []string) error {
	if err := boundary.UnknownColumns(v.Name, v.ColumnDescriptions(), have); err != nil {
		return fmt.Errorf("%s line %d: %w", p.cfg.Path, v.Line, err)
	}
	return nil
}

// managedViews returns a membership test for the views of materialize.yaml.
func (p *Project) managedViews() func(string) bool {
	set := make(map[string]bool, len(p.cfg.Views))
	for _, v := range p.cfg.Views {
		set[v.Name] = true
	}
	return func(name string) bool { return set[name] }
}

// fillConfigured sets the parts of a step that come from materialize.yaml.
func (p *Project) fillConfigured(s *Step, v ViewConfig) {
	s.Indexes = nil
	for _, ix := range v.Indexes {
		s.Indexes = append(s.Indexes, boundary.Index{Name: ix.Name(v.Name), Columns: ix.Columns, Unique: ix.Unique})
	}
	s.Strategy = strategyOf(v)
	s.record = boundary.ViewRecord{Name: v.Name, Description: v.Description, SQLHash: s.Hash, Indexes: s.Indexes,
		MinRefreshInterval: durPtr(v.MinRefreshInterval), MaxStaleness: durPtr(v.MaxStaleness),
		RefreshLockTimeout: durPtr(v.RefreshLockTimeout), RefreshEvery: durPtr(v.RefreshEvery), SourceHash: sourceHash(v.SQL),
		RefreshStrategy: s.Strategy}
	if v.RefreshEvery > 0 {
		s.RefreshEvery = FormatDuration(v.RefreshEvery)
	}
	s.columnDescriptions = v.ColumnDescriptions()
	if v.IncrementalThreshold > 0 {
		t := v.IncrementalThreshold
		s.record.IncrementalThreshold = &t
	}
}

// strategyOf is the view's refresh_strategy ("full" when not set).
func strategyOf(v ViewConfig) string {
	if v.RefreshStrategy == boundary.StrategyIncremental {
		return boundary.StrategyIncremental
	}
	return boundary.StrategyFull
}

// isIncremental reports whether a view of materialize.yaml is incremental.
func (p *Project) isIncremental(name string) bool {
	v, ok := p.cfg.View(name)
	return ok && strategyOf(v) == boundary.StrategyIncremental
}

// qualify decides how an incremental view is maintained, or why it cannot be (the error
// names the construct), against the catalog in tx.
func (p *Project) qualify(ctx context.Context, tx pgx.Tx, a *lineage.Analysis) (*lineage.Incremental, error) {
	return a.Incremental(ctx, lineage.IncrementalOptions{
		Catalog: lineage.NewPgxIncrementalCatalog(tx), IsIncremental: p.isIncremental})
}

// sourceHash is the hex sha256 of a SQL file's exact text under the lineage rules in use
// (lineage.RulesVersion): a view whose file is unchanged keeps its recorded lineage until the
// rules change.
func sourceHash(sql string) string {
	sum := sha256.Sum256([]byte("agentmv lineage rules " + strconv.Itoa(lineage.RulesVersion) + "\n" + sql))
	return hex.EncodeToString(sum[:])
}

// catalogLineage reads, in one query, the relations every materialized view in <S> depends
// on according to pg_depend: managed views as view dependencies, everything else as tables.
func (p *Project) catalogLineage(ctx context.Context, tx pgx.Tx, rec recordedState) (map[string]recordedSources, error) {
	out := map[string]recordedSources{}
	if len(rec.registry) == 0 {
		return out, nil
	}
	// An incremental view's dependencies are its defining view's.
	defs, err := boundary.DefViews(ctx, tx, p.Names())
	if err != nil {
		return nil, err
	}
	defNames, viewNames := []string{}, []string{}
	for d, v := range defs {
		defNames, viewNames = append(defNames, d), append(viewNames, v)
	}
	rows, err := tx.Query(ctx, `
SELECT DISTINCT coalesce(iv.view_name, mv.relname::text), n.nspname::text, c.relname::text, c.relkind::text
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_catalog.pg_rewrite'::regclass
  JOIN pg_catalog.pg_class mv ON mv.oid = r.ev_class
  JOIN pg_catalog.pg_namespace mvn ON mvn.oid = mv.relnamespace
  LEFT JOIN unnest($2::text[], $3::text[]) AS iv(def_name, view_name) ON iv.def_name = mv.relname
  JOIN pg_catalog.pg_class c ON c.oid = d.refobjid AND d.refclassid = 'pg_catalog.pg_class'::regclass
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE mvn.nspname = $1 AND (mv.relkind = 'm' OR iv.view_name IS NOT NULL)
   AND c.oid <> mv.oid AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
 ORDER BY 1, 2, 3`, p.settings.TargetSchema, defNames, viewNames)
	if err != nil {
		return nil, fmt.Errorf("read view dependencies from pg_depend: %w", err)
	}
	var view, schema, rel, kind string
	_, err = pgx.ForEachRow(rows, []any{&view, &schema, &rel, &kind}, func() error {
		l := out[view]
		if _, managed := rec.registry[rel]; managed && schema == p.settings.TargetSchema && (kind == "m" || kind == "r") {
			l.views = append(l.views, rel)
		} else {
			l.tables = append(l.tables, boundary.Relation{Schema: schema, Name: rel, Kind: kind})
		}
		out[view] = l
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read view dependencies from pg_depend: %w", err)
	}
	return out, nil
}

// sameSources compares two source sets by name.
func sameSources(a, b recordedSources) bool {
	key := func(s recordedSources) string {
		var parts []string
		for _, t := range s.tables {
			parts = append(parts, "t:"+t.Schema+"."+t.Name)
		}
		for _, v := range s.views {
			parts = append(parts, "v:"+v)
		}
		sort.Strings(parts)
		return strings.Join(parts, ",")
	}
	return key(a) == key(b)
}

type recordedSources struct {
	tables []boundary.Relation
	views  []string
}

// recordedLineage reads <S>.lineage in one query (nothing when agentmv is not installed).
func (p *Project) recordedLineage(ctx context.Context, tx pgx.Tx, rec recordedState) (map[string]recordedSources, error) {
	out := map[string]recordedSources{}
	if rec.version < 1 || len(rec.registry) == 0 {
		return out, nil
	}
	edges, err := boundary.ReadLineage(ctx, tx, p.Names())
	if err != nil {
		return nil, fmt.Errorf("read recorded lineage: %w", err)
	}
	for _, e := range edges {
		l := out[e.View]
		if e.Kind == boundary.SourceView {
			l.views = append(l.views, e.Source)
		} else if r, err := boundary.ParseRelation(e.Source); err == nil {
			l.tables = append(l.tables, r)
		}
		out[e.View] = l
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
