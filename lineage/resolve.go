package lineage

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Resolved is what the catalog says about a relation name.
type Resolved struct {
	Found   bool
	Schema  string
	Name    string
	Kind    string   // pg_class.relkind: r table, v view, m materialized view, p partitioned, f foreign
	Columns []string // in attnum order, for `*` expansion and column lineage
}

// Resolver resolves relation names (as written, Schema empty when unqualified) against a
// catalog and search_path. Implementations answer all names of one view in one call.
type Resolver interface {
	Resolve(ctx context.Context, rels []Relation) ([]Resolved, error)
}

// StaticResolver resolves from a fixed catalog: keys are "schema.name"; unqualified names are
// looked up in SearchPath order.
type StaticResolver struct {
	SearchPath []string
	Relations  map[string]Resolved
}

// Resolve implements Resolver.
func (s StaticResolver) Resolve(_ context.Context, rels []Relation) ([]Resolved, error) {
	out := make([]Resolved, len(rels))
	for i, r := range rels {
		schemas := []string{r.Schema}
		if r.Schema == "" {
			schemas = s.SearchPath
		}
		for _, sc := range schemas {
			if res, ok := s.Relations[sc+"."+r.Name]; ok {
				res.Found, res.Schema, res.Name = true, sc, r.Name
				out[i] = res
				break
			}
		}
	}
	return out, nil
}

// Querier is what PgxResolver needs (a pgx.Tx, *pgx.Conn or *pgxpool.Pool).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// PgxResolver resolves names with the database's own rules (to_regclass, so the session's
// search_path applies) in one round trip per call.
type PgxResolver struct{ q Querier }

// NewPgxResolver returns a resolver on q.
func NewPgxResolver(q Querier) *PgxResolver { return &PgxResolver{q: q} }

const resolveSQL = `
SELECT q.i::int, c.oid IS NOT NULL, coalesce(n.nspname, ''), coalesce(c.relname, ''), coalesce(c.relkind::text, ''),
       coalesce(ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), '{}')
  FROM unnest($1::text[]) WITH ORDINALITY AS q(name, i)
  LEFT JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(q.name)
  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 ORDER BY q.i`

// Resolve implements Resolver.
func (p *PgxResolver) Resolve(ctx context.Context, rels []Relation) ([]Resolved, error) {
	if len(rels) == 0 {
		return nil, nil
	}
	names := make([]string, len(rels))
	for i, r := range rels {
		if r.Schema == "" {
			names[i] = pgx.Identifier{r.Name}.Sanitize()
		} else {
			names[i] = pgx.Identifier{r.Schema, r.Name}.Sanitize()
		}
	}
	rows, err := p.q.Query(ctx, resolveSQL, names)
	if err != nil {
		return nil, fmt.Errorf("resolve relation names: %w", err)
	}
	out := make([]Resolved, len(rels))
	var (
		i   int
		res Resolved
	)
	_, err = pgx.ForEachRow(rows, []any{&i, &res.Found, &res.Schema, &res.Name, &res.Kind, &res.Columns}, func() error {
		out[i-1] = res
		res = Resolved{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve relation names: %w", err)
	}
	return out, nil
}

// Options tell Analyze how to classify relations.
type Options struct {
	// TargetSchema holds the managed views.
	TargetSchema string
	// Managed reports whether a name is a managed view (in TargetSchema).
	Managed func(name string) bool
	// Resolver resolves names (unqualified ones with the database's search_path) and
	// supplies relkinds and columns. Nil: no catalog; see DefaultSchema, and column lineage
	// through `*` over base relations is unknown.
	Resolver Resolver
	// DefaultSchema is the schema of unqualified names that are not managed views when
	// Resolver is nil (the seed used "public"). Empty: such names are an error.
	DefaultSchema string
}

// Sources is the catalog-free lineage of a view body, with the seed's rules: a name in
// targetSchema must be a managed view (a view dependency); an unqualified name is a managed
// view if managed says so, otherwise public.<name>. Apply uses Analyze with a PgxResolver
// instead, so that unqualified names resolve as Postgres will resolve them.
func Sources(sql, targetSchema string, managed func(name string) bool) (*Analysis, error) {
	return Analyze(context.Background(), sql, Options{TargetSchema: targetSchema, Managed: managed, DefaultSchema: "public"})
}

// Table is a base relation a view reads.
type Table struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Kind   string `json:"kind,omitempty"`
}

func (t Table) String() string { return t.Schema + "." + t.Name }

// ColumnEdge says a view column derives from a source column.
type ColumnEdge struct {
	ViewColumn     string `json:"view_column"`
	SourceSchema   string `json:"source_schema"`
	SourceRelation string `json:"source_relation"`
	SourceColumn   string `json:"source_column"`
}

// Analysis is everything apply needs to know about one view body: its canonical hash and
// text, and its table, view and column lineage.
type Analysis struct {
	Hash     string
	Deparsed string
	// Tables are the base relations read (everything outside TargetSchema), sorted.
	Tables []Table
	// Views are the managed views read, sorted.
	Views []string
	// TableFunctions are set-returning functions in FROM (opaque sources).
	TableFunctions []string
	// OutputColumns are the view's columns in order.
	OutputColumns []string
	// Columns is the column lineage, sorted: each output column derives from every column its
	// expression reads (function and aggregate arguments, CASE, window clauses, scalar
	// subqueries' outputs), followed through CTEs, derived tables, set operations and joins to
	// the relations in FROM; columns read only by WHERE/ON/GROUP BY/HAVING do not count. A `*`
	// over a relation whose columns are unknown (no Resolver) yields view column "*" from
	// source column "*". Constants have no rows.
	Columns []ColumnEdge

	// query, written (resolution per relation as written) and targetSchema are kept for
	// Incremental.
	query        *Query
	written      map[string]Resolved
	targetSchema string
}

// ErrNotManaged is wrapped when a query reads a relation in the target schema that is not a
// managed view.
var ErrNotManaged = errors.New("not a managed view")

// ErrUnknownRelation is wrapped when a relation does not exist.
var ErrUnknownRelation = errors.New("relation does not exist")

// Analyze parses a view body and resolves its lineage. Name rules, in order:
//   - <TargetSchema>.x must be a managed view (else ErrNotManaged): a view dependency;
//   - an unqualified name that Managed accepts is that managed view (apply creates views with
//     <TargetSchema> first in search_path, in dependency order), whatever else exists;
//   - any other name goes to Resolver (one call for the whole view): not found is
//     ErrUnknownRelation, found in TargetSchema but not managed is ErrNotManaged, otherwise a
//     base table with its resolved schema and relkind;
//   - without a Resolver, qualified names are taken as written and unqualified ones get
//     DefaultSchema (Sources uses "public", as the seed did).
//
// CTE references are never relations (scoped per WITH), table functions are reported in
// TableFunctions, and column lineage follows the rules in columns.go (value lineage).
func Analyze(ctx context.Context, sql string, opts Options) (*Analysis, error) {
	q, err := Parse(sql)
	if err != nil {
		return nil, err
	}
	return q.Analyze(ctx, opts)
}

// Analyze resolves the query's lineage (see the package function).
func (q *Query) Analyze(ctx context.Context, opts Options) (*Analysis, error) {
	deparsed, err := q.canonical()
	if err != nil {
		return nil, err
	}
	a := &Analysis{Hash: q.Hash(), Deparsed: deparsed, query: q, targetSchema: opts.TargetSchema}
	managed := opts.Managed
	if managed == nil {
		managed = func(string) bool { return false }
	}
	rels := q.Relations()
	var resolved []Resolved
	if opts.Resolver != nil {
		if resolved, err = opts.Resolver.Resolve(ctx, rels); err != nil {
			return nil, err
		}
	}
	byWritten := map[string]Resolved{}
	tables := map[string]Table{}
	views := map[string]bool{}
	for i, r := range rels {
		var res Resolved
		if resolved != nil {
			res = resolved[i]
		}
		schema := r.Schema
		switch {
		// Unqualified managed view names are the managed views (apply creates views with
		// <S> first in search_path, in dependency order), whatever else the catalog holds.
		case schema == opts.TargetSchema || (schema == "" && managed(r.Name)) ||
			(schema == "" && res.Found && res.Schema == opts.TargetSchema):
			if !managed(r.Name) {
				return nil, newError(ErrNotManaged, q.sql, r.Location, "%s.%s is not a managed view (add it to materialize.yaml, or read the base tables instead)",
					opts.TargetSchema, r.Name)
			}
			views[r.Name] = true
			if !res.Found || res.Schema != opts.TargetSchema {
				res = Resolved{Schema: opts.TargetSchema, Name: r.Name, Kind: "m"}
			}
		case !res.Found && opts.Resolver != nil:
			return nil, newError(ErrUnknownRelation, q.sql, r.Location, "relation %s does not exist (check the name and the schema)", r)
		case !res.Found:
			if schema == "" {
				schema = opts.DefaultSchema
			}
			if schema == "" {
				return nil, newError(ErrUnknownRelation, q.sql, r.Location, "cannot resolve unqualified relation %s without a catalog: qualify it with its schema", r.Name)
			}
			if schema == opts.TargetSchema {
				return nil, newError(ErrNotManaged, q.sql, r.Location, "%s.%s is not a managed view (add it to materialize.yaml, or read the base tables instead)",
					opts.TargetSchema, r.Name)
			}
			res = Resolved{Found: false, Schema: schema, Name: r.Name}
			tables[schema+"."+r.Name] = Table{Schema: schema, Name: r.Name}
		default:
			tables[res.Schema+"."+res.Name] = Table{Schema: res.Schema, Name: res.Name, Kind: res.Kind}
		}
		byWritten[r.String()] = res
	}
	a.written = byWritten
	for _, t := range tables {
		a.Tables = append(a.Tables, t)
	}
	sort.Slice(a.Tables, func(i, j int) bool { return a.Tables[i].String() < a.Tables[j].String() })
	for v := range views {
		a.Views = append(a.Views, v)
	}
	sort.Strings(a.Views)
	for _, f := range q.TableFunctions() {
		a.TableFunctions = append(a.TableFunctions, f.String())
	}
	a.TableFunctions = sortedUnique(a.TableFunctions)
	cols := columnLineage(q, byWritten)
	for _, c := range cols {
		a.OutputColumns = append(a.OutputColumns, c.name)
		for _, s := range c.sources {
			a.Columns = append(a.Columns, ColumnEdge{ViewColumn: c.name, SourceSchema: s.schema, SourceRelation: s.relation, SourceColumn: s.column})
		}
	}
	sort.Slice(a.Columns, func(i, j int) bool {
		x, y := a.Columns[i], a.Columns[j]
		if x.ViewColumn != y.ViewColumn {
			return x.ViewColumn < y.ViewColumn
		}
		if x.SourceSchema != y.SourceSchema {
			return x.SourceSchema < y.SourceSchema
		}
		if x.SourceRelation != y.SourceRelation {
			return x.SourceRelation < y.SourceRelation
		}
		return x.SourceColumn < y.SourceColumn
	})
	a.Columns = dedupeEdges(a.Columns)
	return a, nil
}

func dedupeEdges(in []ColumnEdge) []ColumnEdge {
	var out []ColumnEdge
	for i, e := range in {
		if i > 0 && e == in[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}
