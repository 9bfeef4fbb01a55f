package boundary

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ViewComments are the Postgres comments on one materialized view in <S> and on its columns:
// where agentmv keeps what a view and each of its columns mean (materialize.yaml's description
// and columns:), so psql's \d+ and BI tools show them too.
type ViewComments struct {
	// Comment is the view's own comment ("" when it has none).
	Comment string
	// Columns are the view's columns in order, each with its comment ("" when none).
	Columns []ColumnComment
	// relkind is the view's relation kind: 'm' (a materialized view) or 'r' (the table of an
	// incremental view).
	relkind string
}

// ColumnComment is one column of a view and its comment.
type ColumnComment struct {
	Name    string
	Comment string
}

// Described returns the columns that have a comment, by name (nil when none).
func (c ViewComments) Described() map[string]string {
	var out map[string]string
	for _, col := range c.Columns {
		if col.Comment != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[col.Name] = col.Comment
		}
	}
	return out
}

// Names returns the view's column names in order.
func (c ViewComments) Names() []string {
	out := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		out[i] = col.Name
	}
	return out
}

// readCommentsSQL reads the comments of the materialized views in <S> ($1; all of them, or
// the one named $2) and of their columns, one row per column.
var readCommentsSQL = mustSQL("read_comments", `
SELECT c.relname::text, c.relkind::text, coalesce(dv.description, ''), a.attname::text, coalesce(dc.description, '')
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_catalog.pg_description dv
         ON dv.objoid = c.oid AND dv.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dv.objsubid = 0
  LEFT JOIN pg_catalog.pg_description dc
         ON dc.objoid = c.oid AND dc.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dc.objsubid = a.attnum
 WHERE s.nspname = $1 AND c.relkind IN ('m', 'r') AND ($2 = '' OR c.relname = $2)
 ORDER BY c.relname, a.attnum`)

// ReadComments returns the comments of the materialized views in <S> by view name: all of
// them when view is "", else only that one (an empty map when it does not exist). The
// catalog is readable by every role, so the runtime role may call it.
func ReadComments(ctx context.Context, r Reader, n Names, view string) (map[string]ViewComments, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	rows, err := r.Query(ctx, readCommentsSQL.render(n), n.Schema, view)
	if err != nil {
		return nil, fmt.Errorf("read comments of the views in %s: %w", n.Schema, err)
	}
	out := map[string]ViewComments{}
	var name, kind, viewComment, col, colComment string
	_, err = pgx.ForEachRow(rows, []any{&name, &kind, &viewComment, &col, &colComment}, func() error {
		vc := out[name]
		vc.Comment = viewComment
		vc.relkind = kind
		vc.Columns = append(vc.Columns, ColumnComment{Name: col, Comment: colComment})
		out[name] = vc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read comments of the views in %s: %w", n.Schema, err)
	}
	return out, nil
}

// UnknownColumnError says that a column given a description is not a column of the view.
type UnknownColumnError struct {
	View    string
	Column  string
	Columns []string // the view's columns
}

func (e *UnknownColumnError) Error() string {
	return fmt.Sprintf("view %s has no column %q (its columns are %s); fix or remove that entry of the view's columns: in materialize.yaml",
		e.View, e.Column, strings.Join(e.Columns, ", "))
}

// UnknownColumns checks that every key of described is a column of the view (have, from
// ReadComments or the parsed SELECT's output columns); the first missing one, in name order,
// is an *UnknownColumnError.
func UnknownColumns(view string, described map[string]string, have []string) error {
	for _, c := range sortedKeys(described) {
		if !slices.Contains(have, c) {
			return &UnknownColumnError{View: view, Column: c, Columns: have}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// SameComments reports whether the view's comments say exactly description and columns
// (every other column without a comment).
func SameComments(cur ViewComments, description string, columns map[string]string) bool {
	if cur.Comment != description {
		return false
	}
	have := cur.Described()
	if len(have) != len(columns) {
		return false
	}
	for k, v := range columns {
		if have[k] != v {
			return false
		}
	}
	return true
}

var (
	commentViewSQL   = mustSQL("comment_view", `COMMENT ON MATERIALIZED VIEW {{.Rel (index .Args 0)}} IS {{.TextArg 1}}`)
	commentTableSQL  = mustSQL("comment_table", `COMMENT ON TABLE {{.Rel (index .Args 0)}} IS {{.TextArg 1}}`)
	commentColumnSQL = mustSQL("comment_column", `COMMENT ON COLUMN {{.Rel (index .Args 0)}}.{{.Arg 1}} IS {{.TextArg 2}}`)
)

// SetComments makes the comments of the materialized view <S>.<view> say description (the
// view's own) and columns (column name -> meaning); every other column's comment is removed.
// It reads the current comments first and changes only what differs, as the owner role <O>
// (COMMENT needs ownership). A described column the view does not have is an
// *UnknownColumnError, and nothing is changed.
func SetComments(ctx context.Context, tx pgx.Tx, n Names, view, description string, columns map[string]string) error {
	if err := n.Validate(); err != nil {
		return err
	}
	if err := ValidateIdentifier("view name", view); err != nil {
		return err
	}
	for _, t := range append(slices.Collect(maps.Values(columns)), description) {
		if strings.ContainsRune(t, 0) {
			return fmt.Errorf("comment on %s.%s: a description contains a NUL byte, which Postgres does not accept; remove it", n.Schema, view)
		}
	}
	all, err := ReadComments(ctx, tx, n, view)
	if err != nil {
		return err
	}
	cur, ok := all[view]
	if !ok {
		return fmt.Errorf("comment on %s.%s: no such materialized view", n.Schema, view)
	}
	if err := UnknownColumns(view, columns, cur.Names()); err != nil {
		return err
	}
	if SameComments(cur, description, columns) {
		return nil
	}
	return asOwner(ctx, tx, n, func() error {
		if cur.Comment != description {
			stmt := commentViewSQL
			if cur.relkind == "r" { // an incremental view's table
				stmt = commentTableSQL
			}
			if err := exec(ctx, tx, "comment on view "+view, stmt.render(n, view, description)); err != nil {
				return err
			}
		}
		for _, c := range cur.Columns {
			if want := columns[c.Name]; want != c.Comment {
				if err := exec(ctx, tx, "comment on column "+view+"."+c.Name, commentColumnSQL.render(n, view, c.Name, want)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
