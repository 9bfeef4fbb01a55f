package lineage

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

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
