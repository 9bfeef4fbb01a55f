package lineage

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

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
			out = a.sublinkSources(out, x.Subselect.GetSelectStmt(), sc, lv)
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

// sublinkSources is what a subquery used as a value derives from: the sources of its output
// columns or, when those read no column (count(*), SELECT 1 under EXISTS), the columns that
// choose its rows (its WHERE and HAVING, correlated references included).
// The filters are walked only in that rare case (a second pass), so the common subquery costs
// what it did.
// They are appended to out.
func (a *colAnalyzer) sublinkSources(out []srcCol, sel *pg_query.SelectStmt, sc *cteScope, lv *level) []srcCol {
	n := len(out)
	for _, c := range a.selectCols(sel, sc, lv) {
		out = append(out, c.sources...)
	}
	if len(out) > n {
		return out
	}
	a.selectColsFiltered(sel, sc, lv, &out)
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
