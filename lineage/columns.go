package lineage

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// srcCol is one base column.
type srcCol struct{ schema, relation, column string }

// outCol is one output column of a SELECT with the base columns it derives from.
type outCol struct {
	name    string
	sources []srcCol
}

// rangeEntry is one FROM item visible to a SELECT's expressions.
type rangeEntry struct {
	alias   string   // alias, or the relation name
	name    string   // relation name (for schema.table.col references)
	cols    []outCol // nil when unknown (opaque function, unresolved relation)
	unknown bool
}

// cteScope maps CTE names to their output columns, with lexical nesting.
type cteScope struct {
	parent *cteScope
	ctes   map[string][]outCol
}

func (s *cteScope) lookup(name string) ([]outCol, bool) {
	for c := s; c != nil; c = c.parent {
		if cols, ok := c.ctes[name]; ok {
			return cols, true
		}
	}
	return nil, false
}

type colAnalyzer struct {
	resolved map[string]Resolved // by relation as written
	depth    int
}

// columnLineage computes the output columns of the query and where each comes from.
func columnLineage(q *Query, resolved map[string]Resolved) []outCol {
	a := &colAnalyzer{resolved: resolved}
	return a.selectCols(q.stmt, nil)
}

func (a *colAnalyzer) selectCols(sel *pg_query.SelectStmt, sc *cteScope) []outCol {
	if sel == nil || a.depth > 64 {
		return nil
	}
	a.depth++
	defer func() { a.depth-- }()
	if wc := sel.WithClause; wc != nil {
		inner := &cteScope{parent: sc, ctes: map[string][]outCol{}}
		for _, c := range wc.Ctes {
			cte := c.GetCommonTableExpr()
			body := cte.GetCtequery().GetSelectStmt()
			var cols []outCol
			if wc.Recursive && body != nil && body.Op != pg_query.SetOperation_SET_OPERATION_UNDEFINED && body.Op != pg_query.SetOperation_SETOP_NONE {
				cols = a.selectCols(body.Larg, inner) // the non-recursive term names the columns
			} else {
				cols = a.selectCols(body, inner)
			}
			cols = renameCols(cols, cte.Aliascolnames)
			inner.ctes[cte.Ctename] = cols
		}
		sc = inner
	}
	if sel.Op != pg_query.SetOperation_SETOP_NONE && sel.Op != pg_query.SetOperation_SET_OPERATION_UNDEFINED {
		left := a.selectCols(sel.Larg, sc)
		right := a.selectCols(sel.Rarg, sc)
		for i := range left {
			if i < len(right) {
				left[i].sources = append(left[i].sources, right[i].sources...)
			}
		}
		return left
	}
	if len(sel.ValuesLists) > 0 {
		var out []outCol
		if first := sel.ValuesLists[0].GetList(); first != nil {
			for i := range first.Items {
				out = append(out, outCol{name: "column" + itoa(i+1)})
			}
		}
		return out
	}
	var entries []rangeEntry
	for _, f := range sel.FromClause {
		entries = append(entries, a.fromEntries(f, sc)...)
	}
	var out []outCol
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			continue
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
			out = append(out, expandStar(cr, entries)...)
			continue
		}
		name := rt.Name
		if name == "" {
			name = deriveName(rt.Val)
		}
		out = append(out, outCol{name: name, sources: a.exprSources(rt.Val, entries, sc)})
	}
	return out
}

func renameCols(cols []outCol, names []*pg_query.Node) []outCol {
	for i, n := range names {
		if i < len(cols) {
			cols[i].name = n.GetString_().GetSval()
		}
	}
	return cols
}

func (a *colAnalyzer) fromEntries(n *pg_query.Node, sc *cteScope) []rangeEntry {
	switch {
	case n.GetRangeVar() != nil:
		rv := n.GetRangeVar()
		alias := rv.Relname
		if rv.Alias != nil {
			alias = rv.Alias.Aliasname
		}
		var cols []outCol
		known := false
		if rv.Schemaname == "" {
			if c, ok := sc.lookup(rv.Relname); ok {
				cols, known = cloneCols(c), true
			}
		}
		if !known {
			key := rv.Relname
			if rv.Schemaname != "" {
				key = rv.Schemaname + "." + rv.Relname
			}
			if res, ok := a.resolved[key]; ok && len(res.Columns) > 0 {
				for _, c := range res.Columns {
					cols = append(cols, outCol{name: c, sources: []srcCol{{res.Schema, res.Name, c}}})
				}
				known = true
			}
		}
		if rv.Alias != nil {
			cols = renameCols(cols, rv.Alias.Colnames)
		}
		return []rangeEntry{{alias: alias, name: rv.Relname, cols: cols, unknown: !known}}
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		cols := a.selectCols(rs.Subquery.GetSelectStmt(), sc)
		alias := ""
		if rs.Alias != nil {
			alias = rs.Alias.Aliasname
			cols = renameCols(cols, rs.Alias.Colnames)
		}
		return []rangeEntry{{alias: alias, cols: cols}}
	case n.GetJoinExpr() != nil:
		j := n.GetJoinExpr()
		return append(a.fromEntries(j.Larg, sc), a.fromEntries(j.Rarg, sc)...)
	case n.GetRangeFunction() != nil:
		rf := n.GetRangeFunction()
		alias := ""
		if rf.Alias != nil {
			alias = rf.Alias.Aliasname
		}
		return []rangeEntry{{alias: alias, unknown: true}}
	}
	return nil
}

func cloneCols(in []outCol) []outCol {
	out := make([]outCol, len(in))
	for i, c := range in {
		out[i] = outCol{name: c.name, sources: append([]srcCol(nil), c.sources...)}
	}
	return out
}

func isStar(cr *pg_query.ColumnRef) bool {
	return len(cr.Fields) > 0 && cr.Fields[len(cr.Fields)-1].GetAStar() != nil
}

func expandStar(cr *pg_query.ColumnRef, entries []rangeEntry) []outCol {
	var qual string
	if len(cr.Fields) >= 2 {
		qual = cr.Fields[len(cr.Fields)-2].GetString_().GetSval()
	}
	var out []outCol
	for _, e := range entries {
		if qual != "" && e.alias != qual && e.name != qual {
			continue
		}
		out = append(out, cloneCols(e.cols)...)
	}
	return out
}

// exprSources collects the base columns an expression reads (through scalar subqueries too).
func (a *colAnalyzer) exprSources(n *pg_query.Node, entries []rangeEntry, sc *cteScope) []srcCol {
	if n == nil {
		return nil
	}
	var out []srcCol
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		switch x := m.Interface().(type) {
		case *pg_query.ColumnRef:
			out = append(out, lookupColumn(x, entries)...)
			return
		case *pg_query.SubLink:
			for _, c := range a.selectCols(x.Subselect.GetSelectStmt(), sc) {
				out = append(out, c.sources...)
			}
			if x.Testexpr != nil {
				walk(x.Testexpr.ProtoReflect())
			}
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
				return true
			}
			if fd.IsList() {
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					walk(l.Get(i).Message())
				}
				return true
			}
			walk(v.Message())
			return true
		})
	}
	walk(n.ProtoReflect())
	return out
}

func lookupColumn(cr *pg_query.ColumnRef, entries []rangeEntry) []srcCol {
	var names []string
	for _, f := range cr.Fields {
		if s := f.GetString_(); s != nil {
			names = append(names, s.Sval)
		}
	}
	if len(names) == 0 {
		return nil
	}
	col := names[len(names)-1]
	var qual string
	if len(names) >= 2 {
		qual = names[len(names)-2]
	}
	for _, e := range entries {
		if qual != "" && e.alias != qual && e.name != qual {
			continue
		}
		for _, c := range e.cols {
			if c.name == col {
				return c.sources
			}
		}
	}
	return nil
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
	case n.GetCaseExpr() != nil:
		return "case"
	case n.GetCoalesceExpr() != nil:
		return "coalesce"
	case n.GetMinMaxExpr() != nil:
		if n.GetMinMaxExpr().Op == pg_query.MinMaxOp_IS_GREATEST {
			return "greatest"
		}
		return "least"
	case n.GetSubLink() != nil:
		sl := n.GetSubLink()
		switch sl.SubLinkType {
		case pg_query.SubLinkType_EXISTS_SUBLINK:
			return "exists"
		case pg_query.SubLinkType_ARRAY_SUBLINK:
			return "array"
		case pg_query.SubLinkType_EXPR_SUBLINK:
			if sel := sl.Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 {
				rt := sel.TargetList[0].GetResTarget()
				if rt.Name != "" {
					return rt.Name
				}
				return deriveName(rt.Val)
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
