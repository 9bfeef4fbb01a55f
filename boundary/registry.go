package boundary

import (
	"context"
	"fmt"
	"reflect"
	"slices"
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
	// RefreshLockTimeout bounds refresh_view's wait for a lock on the view or a relation it
	// reads. Nil = DefaultRefreshLockTimeout.
	RefreshLockTimeout *time.Duration `json:"refresh_lock_timeout,omitempty"`
	// RefreshEvery: the scheduler refreshes the view when its data is this old. Nil = never.
	RefreshEvery *time.Duration `json:"refresh_every,omitempty"`
	// AppliedAt is set by the database when the row is inserted or changed.
	AppliedAt time.Time `json:"applied_at"`
	// SourceHash is the hex sha256 of the SQL file's exact text at the last apply, under the
	// lineage rules then in use (lineage.RulesVersion): when it is unchanged, apply reuses the
	// recorded lineage instead of parsing the file again.
	SourceHash string `json:"source_sha256,omitempty"`
	// RefreshStrategy is StrategyFull (a materialized view; "" reads as full) or
	// StrategyIncremental (a table maintained from captured changes).
	RefreshStrategy string `json:"refresh_strategy,omitempty"`
	// IncrementalThreshold: an incremental view is refreshed in full when the captured row
	// images exceed this share of the rows of the tables it reads. Nil: the default.
	IncrementalThreshold *float64 `json:"incremental_threshold,omitempty"`
}

// Refresh strategies (materialize.yaml refresh_strategy).
const (
	StrategyFull        = "full"
	StrategyIncremental = "incremental"
)

// Strategy is RefreshStrategy with "" read as StrategyFull.
func (r ViewRecord) Strategy() string {
	if r.RefreshStrategy == "" {
		return StrategyFull
	}
	return r.RefreshStrategy
}

// registryColumn is one column of <S>.views that a ViewRecord field maps to (name and
// applied_at are fixed). The migration that declares it adds it; ReadRegistry, UpsertView
// and SameMetadata go through the list, so a new column is declared once (see doc.go).
type registryColumn struct {
	name string // column name
	typ  string // SQL type (parameter cast and ADD COLUMN)
	def  string // column options for ADD COLUMN, e.g. "NOT NULL DEFAULT ''"
	// meta: a change is an "update" in plan (description, refresh settings). Columns with a
	// plan action of their own (sql_hash: rebuild, index_spec: reindex) or none are not meta.
	meta  bool
	value func(*ViewRecord) any // the bound parameter UpsertView writes
	dest  func(*ViewRecord) any // what ReadRegistry scans into
}

// Q and T give templates the quoted column name and its SQL type.
func (c registryColumn) Q() string { return pgx.Identifier{c.name}.Sanitize() }
func (c registryColumn) T() string { return c.typ }

// textColumn maps a string field; nullIfEmpty stores "" as NULL (and NULL reads back as "").
func textColumn(name, def string, meta, nullIfEmpty bool, field func(*ViewRecord) *string) registryColumn {
	return registryColumn{name: name, typ: "text", def: def, meta: meta,
		value: func(r *ViewRecord) any {
			if v := *field(r); v != "" || !nullIfEmpty {
				return v
			}
			return nil
		},
		dest: func(r *ViewRecord) any { return nullText{field(r)} }}
}

// intervalColumn maps an optional duration field to a nullable interval.
func intervalColumn(name string, meta bool, field func(*ViewRecord) **time.Duration) registryColumn {
	return registryColumn{name: name, typ: "interval", meta: meta,
		value: func(r *ViewRecord) any { return toInterval(*field(r)) },
		dest:  func(r *ViewRecord) any { return durationScanner{field(r)} }}
}

// jsonColumn maps a field to jsonb (encoded and decoded with encoding/json); nil slices are
// stored as [].
func jsonColumn[T any](name, def string, meta bool, field func(*ViewRecord) *[]T) registryColumn {
	return registryColumn{name: name, typ: "jsonb", def: def, meta: meta,
		value: func(r *ViewRecord) any {
			if v := *field(r); v != nil {
				return v
			}
			return []T{}
		},
		dest: func(r *ViewRecord) any { return field(r) }}
}

// floatColumn maps an optional float field to a nullable float8.
func floatColumn(name string, meta bool, field func(*ViewRecord) **float64) registryColumn {
	return registryColumn{name: name, typ: "float8", meta: meta,
		value: func(r *ViewRecord) any { return *field(r) },
		dest:  func(r *ViewRecord) any { return field(r) }}
}

// registryColumns lists the registry columns of every migration, in order.
func registryColumns() []registryColumn {
	var out []registryColumn
	for _, m := range migrations {
		out = append(out, m.columns...)
	}
	return out
}

// nullText scans text, NULL as "".
type nullText struct{ p *string }

func (t nullText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t.p = ""
	case string:
		*t.p = v
	default:
		return fmt.Errorf("scan text: unexpected %T", src)
	}
	return nil
}

// durationScanner scans an interval, NULL as nil.
type durationScanner struct{ p **time.Duration }

func (d durationScanner) ScanInterval(v pgtype.Interval) error {
	*d.p = fromInterval(v)
	return nil
}

var registryColumnsSQL = mustSQL("registry_columns", `
SELECT a.attname::text FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`)

var readRegistrySQL = mustSQL("read_registry", `
SELECT name, applied_at{{range .Args}}, {{$.Ident .}}{{end}}
  FROM {{.Views}} ORDER BY name`)

// ReadRegistry returns every row of <S>.views ordered by name; nil (no error) when agentmv is
// not installed yet. Columns an older installed version lacks read as zero values.
func ReadRegistry(ctx context.Context, q Reader, n Names) ([]ViewRecord, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, registryColumnsSQL.render(n), sqlData{n: n}.Views())
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	present, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	if len(present) == 0 {
		return nil, nil // not installed
	}
	var cols []registryColumn
	var names []string
	for _, c := range registryColumns() {
		if slices.Contains(present, c.name) {
			cols, names = append(cols, c), append(names, c.name)
		}
	}
	rows, err = q.Query(ctx, readRegistrySQL.render(n, names...))
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ViewRecord, error) {
		var v ViewRecord
		dest := []any{&v.Name, &v.AppliedAt}
		for _, c := range cols {
			dest = append(dest, c.dest(&v))
		}
		err := r.Scan(dest...)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	return out, nil
}

// SameRecord reports whether a and b agree on every registry column (not applied_at): the
// rule UpsertView's statement applies, so a caller holding the recorded row can skip an
// upsert that would leave it untouched.
func SameRecord(a, b ViewRecord) bool {
	return a.Name == b.Name && len(changedColumns(a, b, false)) == 0
}

// SameMetadata reports whether a and b agree on every registry column whose change is an
// "update" for plan (description and refresh settings; not the SQL hash or the indexes).
func SameMetadata(a, b ViewRecord) bool {
	return len(MetadataChanges(a, b)) == 0
}

// MetadataChanges names the registry columns whose change is an "update" for plan
// (description and refresh settings) on which a and b differ, in column order.
func MetadataChanges(a, b ViewRecord) []string {
	return changedColumns(a, b, true)
}

// changedColumns names the registry columns (only the meta ones if metaOnly) on which a and b
// differ, comparing the values UpsertView would bind, in column order.
func changedColumns(a, b ViewRecord, metaOnly bool) []string {
	var out []string
	for _, c := range registryColumns() {
		if (c.meta || !metaOnly) && !reflect.DeepEqual(c.value(&a), c.value(&b)) {
			out = append(out, c.name)
		}
	}
	return out
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

var upsertViewSQL = mustSQL("upsert_view", `
INSERT INTO {{.Views}} AS v (name{{range .RegistryColumns}}, {{.Q}}{{end}}, applied_at)
VALUES ($1{{range $i, $c := .RegistryColumns}}, {{param $i 2}}::{{$c.T}}{{end}}, now())
ON CONFLICT (name) DO UPDATE
   SET {{range .RegistryColumns}}{{.Q}} = excluded.{{.Q}}, {{end}}applied_at = now()
 WHERE ({{range $i, $c := .RegistryColumns}}{{if $i}}, {{end}}v.{{$c.Q}}{{end}})
       IS DISTINCT FROM
       ({{range $i, $c := .RegistryColumns}}{{if $i}}, {{end}}excluded.{{$c.Q}}{{end}})`)

// UpsertView inserts or updates a registry row. An identical row is left untouched (so calling
// it for every view on every apply writes nothing when nothing changed); otherwise applied_at
// becomes now(). rec.AppliedAt is ignored.
func UpsertView(ctx context.Context, tx pgx.Tx, n Names, rec ViewRecord) error {
	if err := n.validSchema(); err != nil {
		return err
	}
	if err := ValidateIdentifier("view name", rec.Name); err != nil {
		return err
	}
	args := []any{rec.Name}
	for _, c := range registryColumns() {
		args = append(args, c.value(&rec))
	}
	return exec(ctx, tx, "record view "+rec.Name, upsertViewSQL.render(n), args...)
}
