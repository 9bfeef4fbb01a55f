package boundary

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// "Concurrent refresh possible" is defined once, here, as two template fragments that every
// user of the rule includes: the refresh function (which picks the mode), RefreshModes (read by
// describe_view, plan and doctor). It is Postgres' own rule for REFRESH MATERIALIZED VIEW
// CONCURRENTLY (matview.c, is_usable_unique_index) plus "the view is populated":
//
//	a unique btree index that is valid, ready, live and immediate, without a WHERE clause,
//	without expressions, and whose columns are all plain user columns (attnum > 0).

// usableUniqueIndexFragment is the condition on pg_index i (and its pg_class ic) for an index
// that lets REFRESH ... CONCURRENTLY run.
const usableUniqueIndexFragment = `{{define "usable_unique_index"}}i.indisunique AND i.indisvalid AND i.indisready AND i.indislive AND i.indimmediate
           AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnatts > 0
           AND 0 < ALL (i.indkey::pg_catalog.int2[])
           AND ic.relam = (SELECT am.oid FROM pg_catalog.pg_am am WHERE am.amname = 'btree'){{end}}`

// refreshModeFragment is a subquery over the materialized view pg_class c (in scope) with the
// columns mode ('concurrent' | 'blocking'), reason (mode_reason, e.g. 'unique index x_idx',
// 'not populated yet', 'no usable unique index (partial index x_idx has a WHERE clause)') and
// index_name (the unique index CONCURRENTLY would use; NULL when blocking).
const refreshModeFragment = `{{define "refresh_mode"}}SELECT CASE WHEN c.relispopulated AND u.index_name IS NOT NULL THEN 'concurrent' ELSE 'blocking' END AS mode,
       CASE WHEN NOT c.relispopulated THEN 'not populated yet'
            WHEN u.index_name IS NOT NULL THEN 'unique index ' || u.index_name
            ELSE 'no usable unique index' || coalesce(' (' || b.why || ')', '') END AS reason,
       CASE WHEN c.relispopulated THEN u.index_name END AS index_name
  FROM (SELECT (SELECT ic.relname::text
                  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                 WHERE i.indrelid = c.oid
                   AND {{template "usable_unique_index"}}
                 ORDER BY ic.relname LIMIT 1) AS index_name) u,
       (SELECT (SELECT pg_catalog.format('%s index %s %s',
                           CASE WHEN i.indpred IS NOT NULL THEN 'partial'
                                WHEN i.indexprs IS NOT NULL THEN 'expression'
                                WHEN NOT i.indimmediate THEN 'deferrable'
                                ELSE 'unique' END,
                           ic.relname,
                           CASE WHEN i.indpred IS NOT NULL THEN 'has a WHERE clause'
                                WHEN i.indexprs IS NOT NULL THEN 'indexes expressions'
                                WHEN NOT i.indimmediate THEN 'is not immediate'
                                WHEN NOT (i.indisvalid AND i.indisready AND i.indislive) THEN 'is not valid'
                                ELSE 'cannot be used' END)
                  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                 WHERE i.indrelid = c.oid AND i.indisunique
                 ORDER BY ic.relname LIMIT 1) AS why) b{{end}}`

// RefreshMode is how <S>.refresh_view would refresh a view right now.
type RefreshMode struct {
	// Concurrent: REFRESH ... CONCURRENTLY (readers are not blocked).
	Concurrent bool `json:"concurrent"`
	// Mode is ModeConcurrent or ModeBlocking.
	Mode string `json:"mode"`
	// Reason is the function's mode_reason, e.g. "unique index x_id_idx", "not populated yet",
	// "no usable unique index (unique index x_id_idx is not valid)".
	Reason string `json:"reason"`
	// Index is the unique index CONCURRENTLY uses ("" when blocking).
	Index string `json:"index,omitempty"`
}

// ReasonNotPopulated is the reason of a view that has never been filled (WITH NO DATA).
const ReasonNotPopulated = "not populated yet"

// PlannedRefreshMode is RefreshModes' answer for a view that apply is about to create (WITH
// DATA) or re-index with exactly these indexes: every index agentmv creates is a plain btree
// index on columns (valid, ready, live, immediate, no WHERE, no expressions), so the rule
// reduces to "one of them is unique", and the function takes the first by name.
func PlannedRefreshMode(view string, indexes []Index) RefreshMode {
	var names []string
	for _, ix := range indexes {
		if ix.Unique {
			name, err := ix.resolvedName(view)
			if err != nil {
				name = IndexName(view, ix.Columns)
			}
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return RefreshMode{Mode: ModeBlocking, Reason: "no usable unique index"}
	}
	slices.Sort(names)
	return RefreshMode{Concurrent: true, Mode: ModeConcurrent, Reason: "unique index " + names[0], Index: names[0]}
}

var refreshModesSQL = mustSQL("refresh_modes", `
SELECT c.relname::text, m.mode, m.reason, coalesce(m.index_name, '')
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
 CROSS JOIN LATERAL ({{template "refresh_mode"}}) m
 WHERE ns.nspname = $1 AND c.relkind = 'm' AND ($2::text IS NULL OR c.relname = $2)
 ORDER BY 1`)

// RefreshModes says, for every materialized view in <S> (or only view, when not ""), how the
// refresh function would refresh it now, by the same definition the function uses. It reads
// only the catalog, so any role can call it (describe_view runs it as the runtime role).
func RefreshModes(ctx context.Context, q Reader, n Names, view string) (map[string]RefreshMode, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	var only *string
	if view != "" {
		only = &view
	}
	rows, err := q.Query(ctx, refreshModesSQL.render(n), n.Schema, only)
	if err != nil {
		return nil, fmt.Errorf("read refresh modes in %s: %w", n.Schema, err)
	}
	out := map[string]RefreshMode{}
	var name string
	var m RefreshMode
	_, err = pgx.ForEachRow(rows, []any{&name, &m.Mode, &m.Reason, &m.Index}, func() error {
		m.Concurrent = m.Mode == ModeConcurrent
		out[name] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read refresh modes in %s: %w", n.Schema, err)
	}
	return out, nil
}
