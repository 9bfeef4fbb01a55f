package boundary

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Lineage source kinds (<S>.lineage.source_kind, seed-compatible).
const (
	SourceTable = "table" // source_name is "schema.table"
	SourceView  = "view"  // source_name is a managed view's bare name
)

var deleteViewSQL = mustSQL("delete_view", `
WITH r AS (DELETE FROM {{.Views}} WHERE name = $1),
     l AS (DELETE FROM {{.Lineage}} WHERE view_name = $1)
DELETE FROM {{.ColumnLineage}} WHERE view_name = $1`)

// DeleteView removes a view's registry, lineage and column-lineage rows (its refresh history
// stays). After this refresh_view rejects the name as unknown.
func DeleteView(ctx context.Context, tx pgx.Tx, n Names, name string) error {
	if err := n.validSchema(); err != nil {
		return err
	}
	return exec(ctx, tx, "forget view "+name, deleteViewSQL.render(n), name)
}

// LineageEdge is one row of <S>.lineage: view reads Source (Kind SourceTable: "schema.table";
// SourceView: a managed view's name).
type LineageEdge struct {
	View   string `json:"view"`
	Kind   string `json:"kind"`
	Source string `json:"source"`
}

var (
	readLineageSQL = mustSQL("read_lineage", `
SELECT view_name, source_kind, source_name FROM {{.Lineage}} ORDER BY 1, 2, 3`)
	viewLineageSQL = mustSQL("view_lineage", `
SELECT source_kind, source_name FROM {{.Lineage}} WHERE view_name = $1`)
	clearLineageSQL = mustSQL("clear_lineage", `DELETE FROM {{.Lineage}} WHERE view_name = $1`)
	writeLineageSQL = mustSQL("write_lineage", `
INSERT INTO {{.Lineage}} (view_name, source_kind, source_name)
SELECT $1, k, s FROM unnest($2::text[], $3::text[]) AS u(k, s)`)
)

// ReadLineage returns every row of <S>.lineage, ordered by view, kind and source.
func ReadLineage(ctx context.Context, q Reader, n Names) ([]LineageEdge, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, readLineageSQL.render(n))
	if err != nil {
		return nil, fmt.Errorf("read lineage from %s: %w", n.Schema, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LineageEdge, error) {
		var e LineageEdge
		err := r.Scan(&e.View, &e.Kind, &e.Source)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read lineage from %s: %w", n.Schema, err)
	}
	return out, nil
}

// RelkindWordSQL names a relation's kind in words from pg_class c: table, view, materialized
// view, partitioned table or foreign table (NULL for other kinds). The setup tools and the
// dashboard say what a relation is with it.
const RelkindWordSQL = `CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
  WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' END`

// SourceKinds says what each source relation of the lineage is (RelkindWordSQL), by its name
// as the lineage records it (schema.relation, unquoted). A source that no longer exists is
// absent from the map. It reads only the catalog, so the runtime role may call it.
func SourceKinds(ctx context.Context, q Reader, sources []string) (map[string]string, error) {
	out := map[string]string{}
	if len(sources) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT s.name, `+RelkindWordSQL+`
  FROM unnest($1::text[]) s(name)
  JOIN pg_catalog.pg_namespace n ON n.nspname = split_part(s.name, '.', 1)
  JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = substr(s.name, length(n.nspname) + 2)
 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')`, sources)
	if err != nil {
		return nil, fmt.Errorf("read the kinds of the lineage sources: %w", err)
	}
	var name, kind string
	if _, err := pgx.ForEachRow(rows, []any{&name, &kind}, func() error {
		out[name] = kind
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read the kinds of the lineage sources: %w", err)
	}
	return out, nil
}

var readGraphSQL = mustSQL("read_graph", `
SELECT v.name,
       coalesce(array_agg(l.source_name ORDER BY l.source_name)
                FILTER (WHERE l.source_name IS NOT NULL), '{}')
  FROM {{.Views}} v
  LEFT JOIN {{.Lineage}} l ON l.view_name = v.name AND l.source_kind = 'view'
 GROUP BY v.name ORDER BY v.name`)

// ReadGraph returns every registered view with the managed views it reads (what apply
// recorded, not the SQL files on disk). Every registered view is a key.
func ReadGraph(ctx context.Context, q Reader, n Names) (map[string][]string, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, readGraphSQL.render(n))
	if err != nil {
		return nil, fmt.Errorf("read managed views from %s: %w", n.Schema, err)
	}
	g := map[string][]string{}
	var name string
	var ups []string
	_, err = pgx.ForEachRow(rows, []any{&name, &ups}, func() error {
		g[name] = slices.Clone(ups)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read managed views from %s: %w", n.Schema, err)
	}
	return g, nil
}

// ViewLineage is what <S>.lineage and <S>.column_lineage say about one view.
type ViewLineage struct {
	Tables     []string        // base tables it reads, "schema.table", sorted
	Upstream   []string        // managed views it reads, sorted
	Downstream []string        // managed views that read it, sorted
	Columns    []ColumnSources // its columns' sources, by column
}

// ColumnSources is one view column and the source columns it comes from
// ("schema.relation.column", sorted).
type ColumnSources struct {
	Column  string
	Sources []string
}

var (
	lineageOfSQL = mustSQL("lineage_of", `
SELECT 'up', source_kind, source_name FROM {{.Lineage}} WHERE view_name = $1
UNION ALL SELECT 'down', 'view', view_name FROM {{.Lineage}} WHERE source_kind = 'view' AND source_name = $1
ORDER BY 1, 2, 3`)
	columnSourcesSQL = mustSQL("column_sources", `
SELECT view_column, array_agg(source_schema || '.' || source_relation || '.' || source_column
         ORDER BY source_schema, source_relation, source_column)
  FROM {{.ColumnLineage}} WHERE view_name = $1 GROUP BY view_column ORDER BY view_column`)
)

// LineageOf reads the recorded lineage of one view (two queries; the runtime role may run
// them). A view with no rows gets empty, non-nil slices.
func LineageOf(ctx context.Context, q Reader, n Names, view string) (ViewLineage, error) {
	out := ViewLineage{Tables: []string{}, Upstream: []string{}, Downstream: []string{}, Columns: []ColumnSources{}}
	if err := n.validSchema(); err != nil {
		return out, err
	}
	rows, err := q.Query(ctx, lineageOfSQL.render(n), view)
	if err != nil {
		return out, fmt.Errorf("read lineage of %s: %w", view, err)
	}
	var dir, kind, src string
	if _, err := pgx.ForEachRow(rows, []any{&dir, &kind, &src}, func() error {
		switch {
		case dir == "down":
			out.Downstream = append(out.Downstream, src)
		case kind == SourceView:
			out.Upstream = append(out.Upstream, src)
		default:
			out.Tables = append(out.Tables, src)
		}
		return nil
	}); err != nil {
		return out, fmt.Errorf("read lineage of %s: %w", view, err)
	}
	rows, err = q.Query(ctx, columnSourcesSQL.render(n), view)
	if err != nil {
		return out, fmt.Errorf("read column lineage of %s: %w", view, err)
	}
	var cs ColumnSources
	if _, err := pgx.ForEachRow(rows, []any{&cs.Column, &cs.Sources}, func() error {
		out.Columns = append(out.Columns, ColumnSources{Column: cs.Column, Sources: slices.Clone(cs.Sources)})
		return nil
	}); err != nil {
		return out, fmt.Errorf("read column lineage of %s: %w", view, err)
	}
	return out, nil
}

// ReplaceLineage sets the seed-compatible lineage rows of view: tables as "schema.table"
// (source_kind 'table'), views as bare names of managed views (source_kind 'view'). Nothing is
// written when the rows are already exactly these.
func ReplaceLineage(ctx context.Context, tx pgx.Tx, n Names, view string, tables, views []string) error {
	if err := n.validSchema(); err != nil {
		return err
	}
	type edge struct{ kind, name string }
	want := map[edge]bool{}
	for _, t := range tables {
		want[edge{SourceTable, t}] = true
	}
	for _, v := range views {
		want[edge{SourceView, v}] = true
	}
	rows, err := tx.Query(ctx, viewLineageSQL.render(n), view)
	if err != nil {
		return fmt.Errorf("read lineage of %s: %w", view, err)
	}
	have := map[edge]bool{}
	var e edge
	if _, err := pgx.ForEachRow(rows, []any{&e.kind, &e.name}, func() error { have[e] = true; return nil }); err != nil {
		return fmt.Errorf("read lineage of %s: %w", view, err)
	}
	if mapsEqual(have, want) {
		return nil
	}
	if err := exec(ctx, tx, "clear lineage of "+view, clearLineageSQL.render(n), view); err != nil {
		return err
	}
	kinds, names := make([]string, 0, len(want)), make([]string, 0, len(want))
	for e := range want {
		kinds, names = append(kinds, e.kind), append(names, e.name)
	}
	return exec(ctx, tx, "write lineage of "+view, writeLineageSQL.render(n), view, kinds, names)
}

// ColumnEdge is one row of <S>.column_lineage for a view: view column <- source column.
type ColumnEdge struct {
	ViewColumn     string `json:"view_column"`
	SourceSchema   string `json:"source_schema"`
	SourceRelation string `json:"source_relation"`
	SourceColumn   string `json:"source_column"`
}

var (
	viewColumnLineageSQL = mustSQL("view_column_lineage", `
SELECT view_column, source_schema, source_relation, source_column FROM {{.ColumnLineage}} WHERE view_name = $1`)
	clearColumnLineageSQL = mustSQL("clear_column_lineage", `DELETE FROM {{.ColumnLineage}} WHERE view_name = $1`)
	writeColumnLineageSQL = mustSQL("write_column_lineage", `
INSERT INTO {{.ColumnLineage}} (view_name, view_column, source_schema, source_relation, source_column)
SELECT $1, a, b, c, d FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(a, b, c, d)`)
)

// ReplaceColumnLineage sets the column-lineage rows of view. Nothing is written when the rows
// are already exactly these.
func ReplaceColumnLineage(ctx context.Context, tx pgx.Tx, n Names, view string, edges []ColumnEdge) error {
	if err := n.validSchema(); err != nil {
		return err
	}
	want := map[ColumnEdge]bool{}
	for _, e := range edges {
		want[e] = true
	}
	rows, err := tx.Query(ctx, viewColumnLineageSQL.render(n), view)
	if err != nil {
		return fmt.Errorf("read column lineage of %s: %w", view, err)
	}
	have := map[ColumnEdge]bool{}
	var e ColumnEdge
	if _, err := pgx.ForEachRow(rows, []any{&e.ViewColumn, &e.SourceSchema, &e.SourceRelation, &e.SourceColumn},
		func() error { have[e] = true; return nil }); err != nil {
		return fmt.Errorf("read column lineage of %s: %w", view, err)
	}
	if mapsEqual(have, want) {
		return nil
	}
	if err := exec(ctx, tx, "clear column lineage of "+view, clearColumnLineageSQL.render(n), view); err != nil {
		return err
	}
	sorted := make([]ColumnEdge, 0, len(want))
	for e := range want {
		sorted = append(sorted, e)
	}
	slices.SortFunc(sorted, func(a, b ColumnEdge) int {
		return strings.Compare(a.ViewColumn+"\x00"+a.SourceSchema+"\x00"+a.SourceRelation+"\x00"+a.SourceColumn,
			b.ViewColumn+"\x00"+b.SourceSchema+"\x00"+b.SourceRelation+"\x00"+b.SourceColumn)
	})
	cols := [4][]string{}
	for _, e := range sorted {
		cols[0] = append(cols[0], e.ViewColumn)
		cols[1] = append(cols[1], e.SourceSchema)
		cols[2] = append(cols[2], e.SourceRelation)
		cols[3] = append(cols[3], e.SourceColumn)
	}
	return exec(ctx, tx, "write column lineage of "+view, writeColumnLineageSQL.render(n),
		view, cols[0], cols[1], cols[2], cols[3])
}

func mapsEqual[K comparable](a, b map[K]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
