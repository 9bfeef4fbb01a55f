package boundary

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// viewColumnsSQL lists the columns of the managed views' relations (a materialized view, or an
// incremental view's table: the "managed_relkind" definition), $2 NULL for all views.
var viewColumnsSQL = mustSQL("view_columns", `
SELECT v.name, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       coalesce(pg_catalog.col_description(a.attrelid, a.attnum), '')
  FROM {{.Views}} v
  JOIN pg_catalog.pg_class c
    ON c.relname = v.name
   AND c.relkind = {{template "managed_relkind" "(pg_catalog.to_jsonb(v) ->> 'refresh_strategy')"}}
   AND c.relnamespace = (SELECT ns.oid FROM pg_catalog.pg_namespace ns WHERE ns.nspname = $1)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE ($2::text IS NULL OR v.name = $2)
 ORDER BY v.name, a.attnum`)

// ViewColumn is one column of a managed view.
type ViewColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
	// Description is what the column means (materialize.yaml's columns:, the column's comment).
	Description string `json:"description,omitempty"`
}

// ViewColumns returns the columns of every managed view (or only view, when not ""), by view,
// in column order. Whatever the strategy, a view has the columns of its defining query. The
// runtime role may call it.
func ViewColumns(ctx context.Context, q Reader, n Names, view string) (map[string][]ViewColumn, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	var only *string
	if view != "" {
		only = &view
	}
	rows, err := q.Query(ctx, viewColumnsSQL.render(n), n.Schema, only)
	if err != nil {
		return nil, fmt.Errorf("read the columns of the views in %s: %w", n.Schema, err)
	}
	out := map[string][]ViewColumn{}
	var name string
	var c ViewColumn
	_, err = pgx.ForEachRow(rows, []any{&name, &c.Name, &c.Type, &c.Nullable, &c.Description}, func() error {
		out[name] = append(out[name], c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the columns of the views in %s: %w", n.Schema, err)
	}
	return out, nil
}
