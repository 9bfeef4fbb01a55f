package lineage

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// PgxIncrementalCatalog answers IncrementalCatalog from Postgres' catalog (one round trip per
// call; unqualified function names are looked up in the session's search_path).
type PgxIncrementalCatalog struct{ q Querier }

// NewPgxIncrementalCatalog returns a catalog on q.
func NewPgxIncrementalCatalog(q Querier) *PgxIncrementalCatalog { return &PgxIncrementalCatalog{q: q} }

const sourceTablesSQL = `
SELECT coalesce(c.relkind::text, ''),
       coalesce(ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), '{}'),
       coalesce(ARRAY(SELECT a.attnotnull FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), '{}'),
       coalesce(ARRAY(SELECT a.attname::text
                        FROM pg_catalog.pg_index i,
                             unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord),
                             pg_catalog.pg_attribute a
                       WHERE i.indrelid = c.oid AND i.indisprimary
                         AND a.attrelid = c.oid AND a.attnum = k.attnum
                       ORDER BY k.ord), '{}'),
       coalesce(EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhparent = c.oid), false)
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(s, n, i)
  LEFT JOIN pg_catalog.pg_namespace ns ON ns.nspname = q.s
  LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = q.n
 ORDER BY q.i`

// SourceTables implements IncrementalCatalog.
func (p *PgxIncrementalCatalog) SourceTables(ctx context.Context, tables []Table) ([]SourceTable, error) {
	schemas, names := make([]string, len(tables)), make([]string, len(tables))
	for i, t := range tables {
		schemas[i], names[i] = t.Schema, t.Name
	}
	rows, err := p.q.Query(ctx, sourceTablesSQL, schemas, names)
	if err != nil {
		return nil, fmt.Errorf("read the tables of an incremental view: %w", err)
	}
	out := make([]SourceTable, 0, len(tables))
	var (
		kind    string
		cols    []string
		notNull []bool
		pk      []string
		inh     bool
	)
	_, err = pgx.ForEachRow(rows, []any{&kind, &cols, &notNull, &pk, &inh}, func() error {
		t := tables[len(out)]
		st := SourceTable{Schema: t.Schema, Name: t.Name, Kind: kind, PrimaryKey: pk, HasChildren: inh}
		for i, c := range cols {
			st.Columns = append(st.Columns, SourceColumn{Name: c, NotNull: notNull[i]})
		}
		out = append(out, st)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the tables of an incremental view: %w", err)
	}
	return out, nil
}

const functionsSQL = `
SELECT coalesce(CASE WHEN bool_or(x.nspname = 'pg_catalog') THEN 'pg_catalog' ELSE min(x.nspname) END, ''),
       coalesce(bool_or(x.prokind = 'a'), false),
       coalesce(CASE WHEN bool_or(x.provolatile = 'v') THEN 'v'
                     WHEN bool_or(x.provolatile = 's') THEN 's'
                     WHEN count(x.nspname) > 0 THEN 'i' END, '')
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(s, n, i)
  LEFT JOIN LATERAL (
        SELECT ns.nspname::text, p.prokind, p.provolatile
          FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace ns ON ns.oid = p.pronamespace
         WHERE p.proname = q.n
           AND CASE WHEN q.s = '' THEN ns.nspname = ANY (pg_catalog.current_schemas(true)) ELSE ns.nspname = q.s END
       ) x ON true
 GROUP BY q.i
 ORDER BY q.i`

// Functions implements IncrementalCatalog.
func (p *PgxIncrementalCatalog) Functions(ctx context.Context, fns []FuncRef) ([]FunctionInfo, error) {
	schemas, names := make([]string, len(fns)), make([]string, len(fns))
	for i, f := range fns {
		schemas[i], names[i] = f.Schema, f.Name
	}
	rows, err := p.q.Query(ctx, functionsSQL, schemas, names)
	if err != nil {
		return nil, fmt.Errorf("read the functions of an incremental view: %w", err)
	}
	out := make([]FunctionInfo, 0, len(fns))
	var fi FunctionInfo
	_, err = pgx.ForEachRow(rows, []any{&fi.Schema, &fi.Aggregate, &fi.Volatility}, func() error {
		fi.Name = fns[len(out)].Name
		out = append(out, fi)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the functions of an incremental view: %w", err)
	}
	return out, nil
}

// StaticIncrementalCatalog answers IncrementalCatalog from fixed data: Relations by
// "schema.name", Funcs by name. A function it does not list is an immutable pg_catalog
// function, or an aggregate if builtinAggregates names it.
type StaticIncrementalCatalog struct {
	Relations map[string]SourceTable
	Funcs     map[string]FunctionInfo
}

var builtinAggregates = []string{"count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every",
	"array_agg", "string_agg", "json_agg", "jsonb_agg", "stddev", "variance"}

// SourceTables implements IncrementalCatalog.
func (s StaticIncrementalCatalog) SourceTables(_ context.Context, tables []Table) ([]SourceTable, error) {
	out := make([]SourceTable, len(tables))
	for i, t := range tables {
		st, ok := s.Relations[t.String()]
		if !ok {
			return nil, fmt.Errorf("no table %s in the static catalog", t)
		}
		st.Schema, st.Name = t.Schema, t.Name
		out[i] = st
	}
	return out, nil
}

// Functions implements IncrementalCatalog.
func (s StaticIncrementalCatalog) Functions(_ context.Context, fns []FuncRef) ([]FunctionInfo, error) {
	out := make([]FunctionInfo, len(fns))
	for i, f := range fns {
		fi, ok := s.Funcs[f.Name]
		if !ok {
			fi = FunctionInfo{Schema: "pg_catalog", Name: f.Name, Volatility: "i", Aggregate: slices.Contains(builtinAggregates, f.Name)}
		}
		out[i] = fi
	}
	return out, nil
}
