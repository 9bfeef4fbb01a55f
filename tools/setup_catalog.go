package tools

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentmv/agentmv/boundary"
)

// ---- list_schemas / list_tables ----

// SchemasOutput is list_schemas' result.
type SchemasOutput struct {
	Schemas []string `json:"schemas"`
}

func (st *setupTools) listSchemas(ctx context.Context, _ noInput) (SchemasOutput, error) {
	rows, err := st.cfg.Pool.Query(ctx, `SELECT nspname FROM pg_catalog.pg_namespace
 WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY 1`)
	if err != nil {
		return SchemasOutput{}, err
	}
	s, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return SchemasOutput{Schemas: nonNil(s)}, err
}

// SchemaInput is list_tables' input.
type SchemaInput struct {
	Schema string `json:"schema" jsonschema:"description=Schema name, e.g. public,minLength=1"`
}

// TableSummary is one relation of list_tables.
type TableSummary struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"` // table, view, materialized view, partitioned table, foreign table
	RowsEstimate *int64 `json:"rows_estimate"`
}

// TablesOutput is list_tables' result.
type TablesOutput struct {
	Schema string         `json:"schema"`
	Tables []TableSummary `json:"tables"`
}

const relkindSQL = boundary.RelkindWordSQL

func (st *setupTools) listTables(ctx context.Context, in SchemaInput) (TablesOutput, error) {
	out := TablesOutput{Schema: in.Schema, Tables: []TableSummary{}}
	if terr := systemRelation(in.Schema, ""); terr != nil {
		return out, terr
	}
	var exists bool
	if err := st.cfg.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, in.Schema).Scan(&exists); err != nil {
		return out, err
	}
	if !exists {
		return out, &ToolError{ErrorType: ErrUnknownRelation, Message: "unknown schema: " + in.Schema, Hint: "call list_schemas"}
	}
	rows, err := st.cfg.Pool.Query(ctx, `SELECT c.relname, `+relkindSQL+`, CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 END
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
 ORDER BY 1`, in.Schema)
	if err != nil {
		return out, err
	}
	var t TableSummary
	_, err = pgx.ForEachRow(rows, []any{&t.Name, &t.Kind, &t.RowsEstimate}, func() error {
		out.Tables = append(out.Tables, t)
		return nil
	})
	return out, err
}

// ---- describe_table ----

// TableInput names a table: schema.table, or a bare name meaning public.table.
type TableInput struct {
	Name string `json:"name" jsonschema:"description=schema.table (a bare name means public),minLength=1"`
}

// TableColumn is one column of describe_table.
type TableColumn struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Nullable bool    `json:"nullable"`
	Default  *string `json:"default,omitempty"`
}

// ForeignKey is one foreign key of describe_table.
type ForeignKey struct {
	Columns    []string `json:"columns"`
	References string   `json:"references"` // schema.table(col, ...)
}

// TableOutput is describe_table's result.
type TableOutput struct {
	Name        string        `json:"name"`
	Kind        string        `json:"kind"`
	Columns     []TableColumn `json:"columns"`
	PrimaryKey  []string      `json:"primary_key"`
	UniqueKeys  [][]string    `json:"unique_keys"`
	ForeignKeys []ForeignKey  `json:"foreign_keys"`
}

type relation struct {
	oid          uint32
	schema, name string
	kind         string
}

func splitTableName(name string) (string, string) {
	schema, table, ok := strings.Cut(name, ".")
	if !ok {
		schema, table = "public", name
	}
	unq := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
		}
		return s
	}
	return unq(schema), unq(table)
}

func (st *setupTools) lookup(ctx context.Context, name string) (relation, error) {
	schema, table := splitTableName(name)
	r := relation{schema: schema, name: table}
	if terr := systemRelation(schema, table); terr != nil {
		return r, terr
	}
	err := st.cfg.Pool.QueryRow(ctx, `SELECT c.oid, `+relkindSQL+`
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')`, schema, table).Scan(&r.oid, &r.kind)
	if errors.Is(err, pgx.ErrNoRows) {
		te := &ToolError{ErrorType: ErrUnknownRelation,
			Message: fmt.Sprintf("unknown table: %s.%s", schema, table),
			Hint:    "call list_tables(schema) for the names; write schema.table"}
		st.suggestRelations(ctx, te, schema, table)
		return r, te
	}
	return r, err
}

// suggestRelations adds to te's hint the user relations named like table but for case, or
// named table in another schema (written as SQL needs them: a name with capitals quoted), so
// `userevents` leads to public."UserEvents" and `invoices` to billing.invoices.
func (st *setupTools) suggestRelations(ctx context.Context, te *ToolError, schema, table string) {
	rows, err := st.cfg.Pool.Query(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),
       c.relname <> lower(c.relname)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE lower(c.relname) = lower($2) AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
   AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
   AND NOT (n.nspname = $1 AND c.relname = $2)
 ORDER BY n.nspname = $1 DESC, 1 LIMIT 5`, schema, table)
	if err != nil {
		return
	}
	var names []string
	capitals := false
	var name string
	var mixed bool
	if _, err := pgx.ForEachRow(rows, []any{&name, &mixed}, func() error {
		names = append(names, name)
		capitals = capitals || mixed
		return nil
	}); err != nil || len(names) == 0 {
		return
	}
	te.Hint = "did you mean " + strings.Join(names, " or ") + "?"
	if capitals {
		te.Hint += " Postgres folds unquoted names to lower case: write a name with capitals in double quotes, as shown"
	}
}

// relationHint gives a 42P01 (undefined table) error of sample_query the names of the
// relations the query probably meant (suggestRelations); other errors are returned as they are.
func (st *setupTools) relationHint(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		return err
	}
	m := undefinedRelation.FindStringSubmatch(pgErr.Message)
	if m == nil {
		return err
	}
	schema, table := "public", m[1]
	if s, t, ok := strings.Cut(m[1], "."); ok {
		schema, table = s, t
	}
	te := setupError(err).(*ToolError)
	c := *te
	st.suggestRelations(ctx, &c, schema, table)
	return &c
}

// undefinedRelation reads the name out of Postgres's 42P01 message.
var undefinedRelation = regexp.MustCompile(`^relation "([^"]+)" does not exist$`)

func (st *setupTools) describeTable(ctx context.Context, in TableInput) (TableOutput, error) {
	r, err := st.lookup(ctx, in.Name)
	if err != nil {
		return TableOutput{}, err
	}
	out := TableOutput{Name: r.schema + "." + r.name, Kind: r.kind, Columns: []TableColumn{},
		PrimaryKey: []string{}, UniqueKeys: [][]string{}, ForeignKeys: []ForeignKey{}}
	rows, err := st.cfg.Pool.Query(ctx, `SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid)
  FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, r.oid)
	if err != nil {
		return out, err
	}
	var c TableColumn
	if _, err := pgx.ForEachRow(rows, []any{&c.Name, &c.Type, &c.Nullable, &c.Default}, func() error {
		out.Columns = append(out.Columns, c)
		return nil
	}); err != nil {
		return out, err
	}
	rows, err = st.cfg.Pool.Query(ctx, `SELECT k.contype::text,
       (SELECT array_agg(a.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(n, ord)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n),
       CASE WHEN k.contype = 'f' THEN
         (SELECT quote_ident(fn.nspname) || '.' || quote_ident(fc.relname) || '(' ||
                 string_agg(quote_ident(a.attname), ', ' ORDER BY u.ord) || ')'
            FROM unnest(k.confkey) WITH ORDINALITY u(n, ord)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n
            JOIN pg_catalog.pg_class fc ON fc.oid = k.confrelid
            JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
           GROUP BY fn.nspname, fc.relname) END
  FROM pg_catalog.pg_constraint k
 WHERE k.conrelid = $1 AND k.contype IN ('p', 'u', 'f') ORDER BY k.contype, k.conname`, r.oid)
	if err != nil {
		return out, err
	}
	var typ string
	var cols []string
	var ref *string
	_, err = pgx.ForEachRow(rows, []any{&typ, &cols, &ref}, func() error {
		switch typ {
		case "p":
			out.PrimaryKey = cols
		case "u":
			out.UniqueKeys = append(out.UniqueKeys, cols)
		case "f":
			fk := ForeignKey{Columns: cols}
			if ref != nil {
				fk.References = *ref
			}
			out.ForeignKeys = append(out.ForeignKeys, fk)
		}
		return nil
	})
	return out, err
}
