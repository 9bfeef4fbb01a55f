package lineage

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Column lineage is value lineage: an output column derives from every column its expression
// reads (arguments of functions and aggregates, CASE branches, window clauses, scalar
// subqueries' outputs), followed through CTEs, derived tables, set operations and joins down
// to the relations named in FROM. Columns read only by WHERE, JOIN ON, GROUP BY or HAVING do
// not count, with one exception: a subquery used as a value (scalar, ARRAY, EXISTS) whose
// output reads no column — `(SELECT count(*) FROM users u WHERE u.account_id = a.id)`,
// `EXISTS (SELECT 1 ...)` — derives from the columns its WHERE and HAVING read, which choose
// the rows that make its value (here users.account_id and accounts.id). It is best effort where the catalog is unknown: a `*` over a relation whose
// columns are unknown yields a column named "*" that derives from <relation>.*, and an
// unqualified column that could belong to several such relations is left without sources.

// RulesVersion numbers the rules by which a view's SQL yields its lineage. Bump it whenever
// the same SQL would now yield other lineage (as version 2 did for subqueries whose output
// reads no column): apply then analyzes again the views whose files did not change, once,
// and rewrites their recorded lineage (without rebuilding them).
const RulesVersion = 2

// srcCol is one source column.
type srcCol struct{ schema, relation, column string }

// outCol is one output column of a SELECT with the source columns it derives from.
type outCol struct {
	name    string
	sources []srcCol
}

// item is one FROM item: a relation, a CTE reference, a derived table, a table function or a
// join of two items.
type item struct {
	refname string // what qualifies its columns ("" if nothing can)
	schema  string // as written, for schema.rel.col references to unaliased relations
	cols    []outCol
	// open: the column list is unknown (relation without catalog, or a function that may
	// return a composite); any column name may exist. openRel names the relation for it;
	// for a function, an unknown column derives from openSrc (its arguments).
	open    bool
	openRel *srcCol
	openSrc []srcCol
	// join
	left, right *item
	using       []outCol // merged USING/NATURAL columns
	hidesInner  bool     // an aliased join hides its members' names
	usingAlias  *item    // JOIN ... USING (a) AS x
}

// level is the FROM namespace of one SELECT, with the enclosing query's for correlated and
// LATERAL references.
type level struct {
	items  []*item
	parent *level
}

// cteScope maps CTE names to their output columns, with lexical nesting.
type cteScope struct {
	parent *cteScope
	ctes   map[string]*cteDef
}

type cteDef struct {
	cols    []outCol
	pending bool // a recursive CTE whose columns are being computed
}

func (s *cteScope) lookup(name string) (*cteDef, bool) {
	for c := s; c != nil; c = c.parent {
		if d, ok := c.ctes[name]; ok {
			return d, true
		}
	}
	return nil, false
}

type colAnalyzer struct {
	resolved map[string]Resolved // by relation as written (Relation.String())
	depth    int
}

// columnLineage computes the output columns of the query and where each comes from.
func columnLineage(q *Query, resolved map[string]Resolved) []outCol {
	a := &colAnalyzer{resolved: resolved}
	return a.selectCols(q.stmt, nil, nil)
}

const maxDepth = 200

func isSetOp(sel *pg_query.SelectStmt) bool {
	return sel.Op != pg_query.SetOperation_SET_OPERATION_UNDEFINED && sel.Op != pg_query.SetOperation_SETOP_NONE
}

func (a *colAnalyzer) selectCols(sel *pg_query.SelectStmt, sc *cteScope, outer *level) []outCol {
	return a.selectColsFiltered(sel, sc, outer, nil)
}

// selectColsFiltered is selectCols that also appends to *filters (when filters is not nil) the
// source columns the WHERE and HAVING clauses of sel read (of every branch of a set operation):
// the columns that choose the rows sel returns.
func (a *colAnalyzer) selectColsFiltered(sel *pg_query.SelectStmt, sc *cteScope, outer *level, filters *[]srcCol) []outCol {
	if sel == nil || a.depth > maxDepth {
		return nil
	}
	a.depth++
	defer func() { a.depth-- }()
	if wc := sel.WithClause; wc != nil {
		inner := &cteScope{parent: sc, ctes: map[string]*cteDef{}}
		if wc.Recursive {
			for _, c := range wc.Ctes {
				inner.ctes[c.GetCommonTableExpr().GetCtename()] = &cteDef{pending: true}
			}
		}
		for _, c := range wc.Ctes {
			cte := c.GetCommonTableExpr()
			body := cte.GetCtequery().GetSelectStmt()
			var cols []outCol
			if wc.Recursive && body != nil && isSetOp(body) {
				// The non-recursive term names the columns; iterate the recursive term until
				// the lineage stops growing.
				def := inner.ctes[cte.Ctename]
				cols = renameCols(a.selectCols(body.Larg, inner, outer), cte.Aliascolnames)
				for range 8 {
					def.cols, def.pending = cols, false
					next := renameCols(a.selectCols(body, inner, outer), cte.Aliascolnames)
					merged := mergeCols(cols, next)
					if sameCols(merged, cols) {
						break
					}
					cols = merged
				}
			} else {
				cols = renameCols(a.selectCols(body, inner, outer), cte.Aliascolnames)
			}
			inner.ctes[cte.Ctename] = &cteDef{cols: cols}
		}
		sc = inner
	}
	if isSetOp(sel) {
		return mergeCols(a.selectColsFiltered(sel.Larg, sc, outer, filters), a.selectColsFiltered(sel.Rarg, sc, outer, filters))
	}
	if len(sel.ValuesLists) > 0 {
		var out []outCol
		for _, row := range sel.ValuesLists {
			for i, v := range row.GetList().GetItems() {
				if i >= len(out) {
					out = append(out, outCol{name: "column" + itoa(i+1)})
				}
				out[i].sources = append(out[i].sources, a.exprSources(v, outer, sc)...)
			}
		}
		return out
	}
	lv := &level{parent: outer}
	for _, f := range sel.FromClause {
		// Items to the left are visible to LATERAL items.
		lv.items = append(lv.items, a.fromItem(f, sc, lv))
	}
	var out []outCol
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			continue
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
			out = append(out, expandStar(cr, lv)...)
			continue
		}
		name := rt.Name
		if name == "" {
			name = deriveName(rt.Val)
		}
		out = append(out, outCol{name: name, sources: a.exprSources(rt.Val, lv, sc)})
	}
	if filters != nil {
		*filters = append(*filters, a.exprSources(sel.WhereClause, lv, sc)...)
		*filters = append(*filters, a.exprSources(sel.HavingClause, lv, sc)...)
	}
	return out
}

// mergeCols unions the sources of two column lists by position; names come from the first.
func mergeCols(left, right []outCol) []outCol {
	out := cloneCols(left)
	for i := range out {
		if i < len(right) {
			out[i].sources = uniqueSrc(append(out[i].sources, right[i].sources...))
		}
	}
	return out
}

func sameCols(a, b []outCol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].name != b[i].name || len(uniqueSrc(a[i].sources)) != len(uniqueSrc(b[i].sources)) {
			return false
		}
	}
	return true
}

func uniqueSrc(in []srcCol) []srcCol {
	var out []srcCol
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func renameCols(cols []outCol, names []*pg_query.Node) []outCol {
	cols = cloneCols(cols)
	for i, n := range names {
		if i < len(cols) {
			cols[i].name = n.GetString_().GetSval()
		}
	}
	return cols
}

func aliasOf(al *pg_query.Alias, def string) string {
	if al != nil && al.Aliasname != "" {
		return al.Aliasname
	}
	return def
}
