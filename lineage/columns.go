package lineage

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// Column lineage is value lineage: an output column derives from every column its expression
// reads (arguments of functions and aggregates, CASE branches, window clauses, scalar
// subqueries' outputs), followed through CTEs, derived tables, set operations and joins down
// to the relations named in FROM. Columns read only by WHERE, JOIN ON, GROUP BY or HAVING do
// not count. It is best effort where the catalog is unknown: a `*` over a relation whose
// columns are unknown yields a column named "*" that derives from <relation>.*, and an
// unqualified column that could belong to several such relations is left without sources.

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
		return mergeCols(a.selectCols(sel.Larg, sc, outer), a.selectCols(sel.Rarg, sc, outer))
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

// fromItem builds the namespace entry of one FROM item; lv holds the items to its left.
func (a *colAnalyzer) fromItem(n *pg_query.Node, sc *cteScope, lv *level) *item {
	switch {
	case n.GetRangeVar() != nil:
		return a.relationItem(n.GetRangeVar(), sc)
	case n.GetRangeTableSample() != nil:
		if rv := n.GetRangeTableSample().Relation.GetRangeVar(); rv != nil {
			return a.relationItem(rv, sc)
		}
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		it := &item{cols: a.selectCols(rs.Subquery.GetSelectStmt(), sc, lv)}
		if rs.Alias != nil {
			it.refname = rs.Alias.Aliasname
			it.cols = renameCols(it.cols, rs.Alias.Colnames)
		}
		return it
	case n.GetRangeFunction() != nil:
		return a.functionItem(n.GetRangeFunction(), sc, lv)
	case n.GetRangeTableFunc() != nil:
		tf := n.GetRangeTableFunc()
		src := append(a.exprSources(tf.Docexpr, lv, sc), a.exprSources(tf.Rowexpr, lv, sc)...)
		it := &item{refname: aliasOf(tf.Alias, "xmltable")}
		for _, c := range tf.Columns {
			if col := c.GetRangeTableFuncCol(); col != nil {
				it.cols = append(it.cols, outCol{name: col.Colname, sources: src})
			}
		}
		if tf.Alias != nil {
			it.cols = renameCols(it.cols, tf.Alias.Colnames)
		}
		return it
	case n.GetJsonTable() != nil:
		jt := n.GetJsonTable()
		var src []srcCol
		if jt.ContextItem != nil {
			src = a.exprSources(jt.ContextItem.RawExpr, lv, sc)
		}
		it := &item{refname: aliasOf(jt.Alias, "json_table")}
		var addCols func(cols []*pg_query.Node)
		addCols = func(cols []*pg_query.Node) {
			for _, c := range cols {
				if col := c.GetJsonTableColumn(); col != nil {
					if col.Name != "" {
						it.cols = append(it.cols, outCol{name: col.Name, sources: src})
					}
					addCols(col.Columns) // NESTED PATH columns
				}
			}
		}
		addCols(jt.Columns)
		return it
	case n.GetJoinExpr() != nil:
		return a.joinItem(n.GetJoinExpr(), sc, lv)
	}
	return &item{open: true}
}

func (a *colAnalyzer) relationItem(rv *pg_query.RangeVar, sc *cteScope) *item {
	it := &item{refname: aliasOf(rv.Alias, rv.Relname)}
	if rv.Alias == nil {
		it.schema = rv.Schemaname
	}
	var colAliases []*pg_query.Node
	if rv.Alias != nil {
		colAliases = rv.Alias.Colnames
	}
	if rv.Schemaname == "" {
		if d, ok := sc.lookup(rv.Relname); ok {
			if d.pending {
				it.open = true // a recursive reference before its columns are known
			} else {
				it.cols = renameCols(d.cols, colAliases)
			}
			return it
		}
	}
	key := Relation{Schema: rv.Schemaname, Name: rv.Relname}.String()
	res, ok := a.resolved[key]
	if !ok {
		res = Resolved{Schema: rv.Schemaname, Name: rv.Relname}
	}
	if len(res.Columns) > 0 {
		for _, c := range res.Columns {
			it.cols = append(it.cols, outCol{name: c, sources: []srcCol{{res.Schema, res.Name, c}}})
		}
		it.cols = renameCols(it.cols, colAliases)
		return it
	}
	// Columns unknown. Aliased columns are still known by name, but not their source.
	it.open = true
	it.openRel = &srcCol{schema: res.Schema, relation: res.Name}
	for _, c := range colAliases {
		it.cols = append(it.cols, outCol{name: c.GetString_().GetSval(), sources: []srcCol{{res.Schema, res.Name, "?"}}})
	}
	return it
}

func (a *colAnalyzer) functionItem(rf *pg_query.RangeFunction, sc *cteScope, lv *level) *item {
	it := &item{}
	var src []srcCol
	var names []string
	known := false
	for _, f := range rf.Functions {
		parts := f.GetList().GetItems()
		if len(parts) == 0 {
			continue
		}
		src = append(src, a.exprSources(parts[0], lv, sc)...)
		name := "?column?"
		if fc := parts[0].GetFuncCall(); fc != nil {
			name = funcRef(fc.Funcname).Name
		} else {
			name = deriveName(parts[0])
		}
		if len(parts) > 1 && len(parts[1].GetList().GetItems()) > 0 { // ROWS FROM (f() AS (a int, ...))
			for _, cd := range parts[1].GetList().GetItems() {
				names = append(names, cd.GetColumnDef().GetColname())
			}
			known = true
			continue
		}
		names = append(names, name)
	}
	for _, cd := range rf.Coldeflist {
		if !known {
			names, known = nil, true
		}
		names = append(names, cd.GetColumnDef().GetColname())
	}
	if rf.Ordinality {
		names = append(names, "ordinality")
	}
	if rf.Alias != nil {
		it.refname = rf.Alias.Aliasname
		if len(rf.Functions) == 1 && !known && len(rf.Alias.Colnames) == 0 && len(names) >= 1 {
			names[0] = rf.Alias.Aliasname // a scalar function's column takes the alias
		}
		for i, c := range rf.Alias.Colnames {
			if i < len(names) {
				names[i] = c.GetString_().GetSval()
			} else {
				names = append(names, c.GetString_().GetSval())
			}
		}
		known = known || len(rf.Alias.Colnames) > 0
	} else if len(names) > 0 && len(rf.Functions) == 1 {
		it.refname = names[0]
	}
	for i, nm := range names {
		var s []srcCol
		if !rf.Ordinality || i < len(names)-1 {
			s = src
		}
		it.cols = append(it.cols, outCol{name: nm, sources: s})
	}
	if !known {
		it.open, it.openSrc = true, src // may return a composite with other column names
	}
	return it
}

func (a *colAnalyzer) joinItem(j *pg_query.JoinExpr, sc *cteScope, lv *level) *item {
	left := a.fromItem(j.Larg, sc, lv)
	// The right side may be LATERAL and see the left side.
	rlv := &level{items: append(slices.Clone(lv.items), left), parent: lv.parent}
	right := a.fromItem(j.Rarg, sc, rlv)
	it := &item{left: left, right: right}
	var using []string
	for _, u := range j.UsingClause {
		using = append(using, u.GetString_().GetSval())
	}
	if j.IsNatural {
		for _, c := range starCols(left) {
			for _, d := range starCols(right) {
				if c.name == d.name && c.name != "*" {
					using = append(using, c.name)
				}
			}
		}
	}
	for _, u := range using {
		l, _ := left.lookup(u)
		r, _ := right.lookup(u)
		var src []srcCol
		switch j.Jointype {
		case pg_query.JoinType_JOIN_RIGHT:
			src = r
		case pg_query.JoinType_JOIN_FULL:
			src = append(slices.Clone(l), r...)
		default:
			src = l
		}
		it.using = append(it.using, outCol{name: u, sources: src})
	}
	if j.Alias != nil {
		it.refname, it.hidesInner = j.Alias.Aliasname, true
		if len(j.Alias.Colnames) > 0 {
			cols := renameCols(starCols(it), j.Alias.Colnames)
			return &item{refname: j.Alias.Aliasname, cols: cols}
		}
	}
	if j.JoinUsingAlias != nil {
		// JOIN ... USING (a) AS x: x.a names the merged columns.
		it.usingAlias = &item{refname: j.JoinUsingAlias.Aliasname, cols: cloneCols(it.using)}
	}
	return it
}

// lookup finds an unqualified column in an item: its sources, and whether the item has (or,
// when open, may have) it.
func (it *item) lookup(name string) ([]srcCol, bool) {
	if it.left != nil || it.right != nil {
		for _, u := range it.using {
			if u.name == name {
				return u.sources, true
			}
		}
		if s, ok := it.left.lookup(name); ok {
			return s, true
		}
		if it.right != nil {
			return it.right.lookup(name)
		}
		return nil, false
	}
	for _, c := range it.cols {
		if c.name == name {
			return c.sources, true
		}
	}
	if it.open {
		if it.openRel != nil {
			return []srcCol{{it.openRel.schema, it.openRel.relation, name}}, true
		}
		return it.openSrc, true
	}
	return nil, false
}

// starCols expands `*` over one item (USING columns first for joins).
func starCols(it *item) []outCol {
	if it == nil {
		return nil
	}
	if it.left != nil || it.right != nil {
		out := cloneCols(it.using)
		for _, side := range []*item{it.left, it.right} {
			for _, c := range starCols(side) {
				if !slices.ContainsFunc(it.using, func(u outCol) bool { return u.name == c.name }) {
					out = append(out, c)
				}
			}
		}
		return out
	}
	out := cloneCols(it.cols)
	if it.open && it.openRel != nil && len(it.cols) == 0 {
		out = append(out, outCol{name: "*", sources: []srcCol{{it.openRel.schema, it.openRel.relation, "*"}}})
	}
	return out
}

// named returns the items of a level that a qualifier can name (members of unaliased joins
// included).
func (lv *level) named(qual, schema string) *item {
	var find func(it *item) *item
	find = func(it *item) *item {
		if it == nil {
			return nil
		}
		if it.refname == qual && (schema == "" || it.schema == schema) && it.refname != "" {
			return it
		}
		if it.usingAlias != nil && it.usingAlias.refname == qual && schema == "" {
			return it.usingAlias
		}
		if (it.left != nil || it.right != nil) && !it.hidesInner {
			if f := find(it.left); f != nil {
				return f
			}
			return find(it.right)
		}
		return nil
	}
	for i := len(lv.items) - 1; i >= 0; i-- {
		if f := find(lv.items[i]); f != nil {
			return f
		}
	}
	return nil
}

func cloneCols(in []outCol) []outCol {
	out := make([]outCol, len(in))
	for i, c := range in {
		out[i] = outCol{name: c.name, sources: slices.Clone(c.sources)}
	}
	return out
}

func isStar(cr *pg_query.ColumnRef) bool {
	return len(cr.Fields) > 0 && cr.Fields[len(cr.Fields)-1].GetAStar() != nil
}

func fieldNames(cr *pg_query.ColumnRef) []string {
	var names []string
	for _, f := range cr.Fields {
		if s := f.GetString_(); s != nil {
			names = append(names, s.Sval)
		}
	}
	return names
}

func expandStar(cr *pg_query.ColumnRef, lv *level) []outCol {
	names := fieldNames(cr)
	if len(names) == 0 {
		var out []outCol
		for _, it := range lv.items {
			out = append(out, starCols(it)...)
		}
		return out
	}
	for l := lv; l != nil; l = l.parent {
		schema := ""
		if len(names) >= 2 {
			schema = names[len(names)-2]
		}
		if it := l.named(names[len(names)-1], schema); it != nil {
			return starCols(it)
		}
	}
	return nil
}

// lookupColumn resolves a column reference in lv and its enclosing levels.
func lookupColumn(cr *pg_query.ColumnRef, lv *level) []srcCol {
	names := fieldNames(cr)
	if isStar(cr) {
		var out []srcCol
		for _, c := range expandStar(cr, lv) {
			out = append(out, c.sources...)
		}
		return out
	}
	if len(names) == 0 {
		return nil
	}
	col := names[len(names)-1]
	for l := lv; l != nil; l = l.parent {
		if len(names) == 1 {
			var found [][]srcCol
			var maybe [][]srcCol
			for _, it := range l.items {
				if s, ok := it.lookup(col); ok {
					if it.hasKnown(col) {
						found = append(found, s)
					} else {
						maybe = append(maybe, s)
					}
				}
			}
			switch {
			case len(found) >= 1:
				return found[0]
			case len(maybe) == 1:
				return maybe[0]
			case len(maybe) > 1:
				return nil // ambiguous without the catalog
			}
			// A whole-row reference to a FROM item.
			if it := l.named(col, ""); it != nil {
				var out []srcCol
				for _, c := range starCols(it) {
					out = append(out, c.sources...)
				}
				return out
			}
			continue
		}
		qual, schema := names[len(names)-2], ""
		if len(names) >= 3 {
			schema = names[len(names)-3]
		}
		if it := l.named(qual, schema); it != nil {
			s, _ := it.lookup(col)
			return s
		}
	}
	return nil
}

// hasKnown reports whether the item certainly has the column (not just might, being open).
func (it *item) hasKnown(name string) bool {
	if it.left != nil || it.right != nil {
		for _, u := range it.using {
			if u.name == name {
				return true
			}
		}
		return it.left.hasKnown(name) || (it.right != nil && it.right.hasKnown(name))
	}
	for _, c := range it.cols {
		if c.name == name {
			return true
		}
	}
	return false
}

// exprSources collects the source columns an expression reads (through scalar subqueries too).
func (a *colAnalyzer) exprSources(n *pg_query.Node, lv *level, sc *cteScope) []srcCol {
	if n == nil || a.depth > maxDepth {
		return nil
	}
	a.depth++
	defer func() { a.depth-- }()
	var out []srcCol
	var walk func(m proto.Message)
	walk = func(m proto.Message) {
		switch x := m.(type) {
		case *pg_query.ColumnRef:
			out = append(out, lookupColumn(x, lv)...)
			return
		case *pg_query.SubLink:
			for _, c := range a.selectCols(x.Subselect.GetSelectStmt(), sc, lv) {
				out = append(out, c.sources...)
			}
			if x.Testexpr != nil {
				walk(x.Testexpr)
			}
			return
		case *pg_query.SelectStmt:
			return // only reachable through SubLink
		}
		eachChild(m, func(_ string, c proto.Message) bool {
			walk(c)
			return true
		})
	}
	walk(n)
	return out
}

// sqlValueNames are the column names Postgres gives SQL-standard value functions.
var sqlValueNames = map[pg_query.SQLValueFunctionOp]string{
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:        "current_date",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME:        "current_time",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:      "current_time",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP:   "current_timestamp",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N: "current_timestamp",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME:           "localtime",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N:         "localtime",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:      "localtimestamp",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:    "localtimestamp",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:        "current_role",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER:        "current_user",
	pg_query.SQLValueFunctionOp_SVFOP_USER:                "user",
	pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:        "session_user",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:     "current_catalog",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:      "current_schema",
}

// deriveName is Postgres' FigureColname for the common cases.
func deriveName(n *pg_query.Node) string {
	switch {
	case n == nil:
		return "?column?"
	case n.GetColumnRef() != nil:
		f := n.GetColumnRef().Fields
		if s := f[len(f)-1].GetString_(); s != nil {
			return s.Sval
		}
	case n.GetAIndirection() != nil:
		ind := n.GetAIndirection().Indirection
		for i := len(ind) - 1; i >= 0; i-- {
			if s := ind[i].GetString_(); s != nil {
				return s.Sval
			}
		}
		return deriveName(n.GetAIndirection().Arg)
	case n.GetFuncCall() != nil:
		fn := n.GetFuncCall().Funcname
		return fn[len(fn)-1].GetString_().GetSval()
	case n.GetTypeCast() != nil:
		if name := deriveName(n.GetTypeCast().Arg); name != "?column?" {
			return name
		}
		tn := n.GetTypeCast().TypeName.GetNames()
		if len(tn) > 0 {
			return tn[len(tn)-1].GetString_().GetSval()
		}
	case n.GetCollateClause() != nil:
		return deriveName(n.GetCollateClause().Arg)
	case n.GetCaseExpr() != nil:
		if name := deriveName(n.GetCaseExpr().Defresult); name != "?column?" {
			return name
		}
		return "case"
	case n.GetCoalesceExpr() != nil:
		return "coalesce"
	case n.GetNullIfExpr() != nil:
		return "nullif"
	case n.GetMinMaxExpr() != nil:
		if n.GetMinMaxExpr().Op == pg_query.MinMaxOp_IS_GREATEST {
			return "greatest"
		}
		return "least"
	case n.GetSqlvalueFunction() != nil:
		if s, ok := sqlValueNames[n.GetSqlvalueFunction().Op]; ok {
			return s
		}
	case n.GetRowExpr() != nil:
		return "row"
	case n.GetGroupingFunc() != nil:
		return "grouping"
	case n.GetSubLink() != nil:
		sl := n.GetSubLink()
		switch sl.SubLinkType {
		case pg_query.SubLinkType_EXISTS_SUBLINK:
			return "exists"
		case pg_query.SubLinkType_ARRAY_SUBLINK:
			return "array"
		case pg_query.SubLinkType_EXPR_SUBLINK:
			if sel := sl.Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 {
				if rt := sel.TargetList[0].GetResTarget(); rt != nil {
					if rt.Name != "" {
						return rt.Name
					}
					return deriveName(rt.Val)
				}
			}
		}
	case n.GetAArrayExpr() != nil:
		return "array"
	}
	return "?column?"
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
