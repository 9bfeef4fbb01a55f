package boundary

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// ViewRecord is one row of <S>.views, the registry and refresh allowlist. It never holds the SQL
// body: the runtime role can read this table.
type ViewRecord struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	SQLHash     string  `json:"sql_hash"`
	Indexes     []Index `json:"index_spec"`
	// MinRefreshInterval: refresh_view answers "fresh" within it. Nil = no limit.
	MinRefreshInterval *time.Duration `json:"min_refresh_interval,omitempty"`
	// MaxStaleness: status marks the view stale after it. Nil = never.
	MaxStaleness *time.Duration `json:"max_staleness,omitempty"`
	// AppliedAt is set by the database when the row is inserted or changed.
	AppliedAt time.Time `json:"applied_at"`
	// SourceHash is the hex sha256 of the SQL file's exact text at the last apply: when it is
	// unchanged, apply reuses the recorded lineage instead of parsing the file again.
	SourceHash string `json:"source_sha256,omitempty"`
}

// ReadRegistry returns every row of <S>.views ordered by name; nil (no error) when agentmv is
// not installed yet.
func ReadRegistry(ctx context.Context, q Querier, n Names) ([]ViewRecord, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, n.qrel("views")).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := q.Query(ctx, n.render(`
SELECT name, description, sql_hash, index_spec, min_refresh_interval, max_staleness, applied_at,
       coalesce(to_jsonb(v) ->> 'source_sha256', '')
  FROM {{S}}.views v ORDER BY name`))
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ViewRecord, error) {
		var v ViewRecord
		var spec []byte
		var minI, maxS pgtype.Interval
		if err := r.Scan(&v.Name, &v.Description, &v.SQLHash, &spec, &minI, &maxS, &v.AppliedAt, &v.SourceHash); err != nil {
			return v, err
		}
		if err := json.Unmarshal(spec, &v.Indexes); err != nil {
			return v, fmt.Errorf("view %s: index_spec: %w", v.Name, err)
		}
		v.MinRefreshInterval = fromInterval(minI)
		v.MaxStaleness = fromInterval(maxS)
		return v, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	return out, nil
}

func toInterval(d *time.Duration) pgtype.Interval {
	if d == nil {
		return pgtype.Interval{}
	}
	return pgtype.Interval{Microseconds: d.Microseconds(), Valid: true}
}

func fromInterval(i pgtype.Interval) *time.Duration {
	if !i.Valid {
		return nil
	}
	d := time.Duration(i.Microseconds)*time.Microsecond +
		time.Duration(i.Days)*24*time.Hour + time.Duration(i.Months)*30*24*time.Hour
	return &d
}

// UpsertView inserts or updates a registry row. An identical row is left untouched (so calling
// it for every view on every apply writes nothing when nothing changed); otherwise applied_at
// becomes now(). rec.AppliedAt is ignored.
func UpsertView(ctx context.Context, tx pgx.Tx, n Names, rec ViewRecord) error {
	if err := n.Validate(); err != nil {
		return err
	}
	if err := ValidateName("view name", rec.Name); err != nil {
		return err
	}
	idx := rec.Indexes
	if idx == nil {
		idx = []Index{}
	}
	spec, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("view %s: encode index spec: %w", rec.Name, err)
	}
	return exec(ctx, tx, "record view "+rec.Name, n.render(`
INSERT INTO {{S}}.views AS v (name, description, sql_hash, index_spec, min_refresh_interval, max_staleness, source_sha256, applied_at)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, nullif($7, ''), now())
ON CONFLICT (name) DO UPDATE
   SET description = excluded.description, sql_hash = excluded.sql_hash,
       index_spec = excluded.index_spec, min_refresh_interval = excluded.min_refresh_interval,
       max_staleness = excluded.max_staleness, source_sha256 = excluded.source_sha256, applied_at = now()
 WHERE (v.description, v.sql_hash, v.index_spec, v.min_refresh_interval, v.max_staleness, v.source_sha256)
       IS DISTINCT FROM
       (excluded.description, excluded.sql_hash, excluded.index_spec, excluded.min_refresh_interval, excluded.max_staleness, excluded.source_sha256)`),
		rec.Name, rec.Description, rec.SQLHash, string(spec), toInterval(rec.MinRefreshInterval), toInterval(rec.MaxStaleness), rec.SourceHash)
}

// DeleteView removes a view's registry, lineage and column-lineage rows (its refresh history
// stays). After this refresh_view rejects the name as unknown.
func DeleteView(ctx context.Context, tx pgx.Tx, n Names, name string) error {
	if err := n.Validate(); err != nil {
		return err
	}
	for _, t := range []struct{ table, col string }{
		{"views", "name"}, {"lineage", "view_name"}, {"column_lineage", "view_name"},
	} {
		sql := "DELETE FROM " + n.qrel(t.table) + " WHERE " + pgx.Identifier{t.col}.Sanitize() + " = $1"
		if err := exec(ctx, tx, "forget view "+name, sql, name); err != nil {
			return err
		}
	}
	return nil
}

// ReplaceLineage sets the seed-compatible lineage rows of view: tables as "schema.table"
// (source_kind 'table'), views as bare names of managed views (source_kind 'view'). Nothing is
// written when the rows are already exactly these.
func ReplaceLineage(ctx context.Context, tx pgx.Tx, n Names, view string, tables, views []string) error {
	if err := n.Validate(); err != nil {
		return err
	}
	type edge struct{ kind, name string }
	want := map[edge]bool{}
	for _, t := range tables {
		want[edge{"table", t}] = true
	}
	for _, v := range views {
		want[edge{"view", v}] = true
	}
	rows, err := tx.Query(ctx, n.render(`SELECT source_kind, source_name FROM {{S}}.lineage WHERE view_name = $1`), view)
	if err != nil {
		return fmt.Errorf("read lineage of %s: %w", view, err)
	}
	have := map[edge]bool{}
	for rows.Next() {
		var e edge
		if err := rows.Scan(&e.kind, &e.name); err != nil {
			rows.Close()
			return fmt.Errorf("read lineage of %s: %w", view, err)
		}
		have[e] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read lineage of %s: %w", view, err)
	}
	if mapsEqual(have, want) {
		return nil
	}
	if err := exec(ctx, tx, "clear lineage of "+view, n.render(`DELETE FROM {{S}}.lineage WHERE view_name = $1`), view); err != nil {
		return err
	}
	kinds, names := make([]string, 0, len(want)), make([]string, 0, len(want))
	for e := range want {
		kinds, names = append(kinds, e.kind), append(names, e.name)
	}
	return exec(ctx, tx, "write lineage of "+view, n.render(`
INSERT INTO {{S}}.lineage (view_name, source_kind, source_name)
SELECT $1, k, s FROM unnest($2::text[], $3::text[]) AS u(k, s)`), view, kinds, names)
}

// ColumnEdge is one row of <S>.column_lineage for a view: view column <- source column.
type ColumnEdge struct {
	ViewColumn     string `json:"view_column"`
	SourceSchema   string `json:"source_schema"`
	SourceRelation string `json:"source_relation"`
	SourceColumn   string `json:"source_column"`
}

// ReplaceColumnLineage sets the column-lineage rows of view. Nothing is written when the rows
// are already exactly these.
func ReplaceColumnLineage(ctx context.Context, tx pgx.Tx, n Names, view string, edges []ColumnEdge) error {
	if err := n.Validate(); err != nil {
		return err
	}
	want := map[ColumnEdge]bool{}
	for _, e := range edges {
		want[e] = true
	}
	rows, err := tx.Query(ctx, n.render(`
SELECT view_column, source_schema, source_relation, source_column FROM {{S}}.column_lineage WHERE view_name = $1`), view)
	if err != nil {
		return fmt.Errorf("read column lineage of %s: %w", view, err)
	}
	have := map[ColumnEdge]bool{}
	for rows.Next() {
		var e ColumnEdge
		if err := rows.Scan(&e.ViewColumn, &e.SourceSchema, &e.SourceRelation, &e.SourceColumn); err != nil {
			rows.Close()
			return fmt.Errorf("read column lineage of %s: %w", view, err)
		}
		have[e] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read column lineage of %s: %w", view, err)
	}
	if mapsEqual(have, want) {
		return nil
	}
	if err := exec(ctx, tx, "clear column lineage of "+view, n.render(`DELETE FROM {{S}}.column_lineage WHERE view_name = $1`), view); err != nil {
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
	return exec(ctx, tx, "write column lineage of "+view, n.render(`
INSERT INTO {{S}}.column_lineage (view_name, view_column, source_schema, source_relation, source_column)
SELECT $1, a, b, c, d FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(a, b, c, d)`),
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
