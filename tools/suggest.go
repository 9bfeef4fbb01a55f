package tools

import (
	"maps"
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// IndexSuggestion is a unique index proposed for a new view so that REFRESH ... CONCURRENTLY
// is possible (Postgres requires a unique index on plain columns, without a WHERE clause).
type IndexSuggestion struct {
	Columns []string `json:"columns" yaml:"columns"`
	Unique  bool     `json:"unique" yaml:"unique"`
	Reason  string   `json:"reason,omitempty" yaml:"-"`
}

// maxDistinctKey bounds a key made of every output column of a SELECT DISTINCT.
const maxDistinctKey = 8

// suggestUniqueIndex finds a column set of the view's output that is unique by construction:
// the GROUP BY keys (when every key is an output column), every column of a plain DISTINCT,
// or the primary key of the single table read without aggregation. outputs are the view's
// output column names (from the server's description of the statement); primaryKey returns
// the primary-key columns of a relation (nil when none). It returns nil when no key is
// evident.
func suggestUniqueIndex(sql string, outputs []string, primaryKey func(schema, table string) []string) *IndexSuggestion {
	tree, err := pg_query.Parse(sql)
	if err != nil || len(tree.GetStmts()) != 1 {
		return nil
	}
	sel := tree.GetStmts()[0].GetStmt().GetSelectStmt()
	if sel == nil || sel.GetOp() != pg_query.SetOperation_SETOP_NONE {
		return nil
	}
	// output name -> the source column it is a plain reference to ("" when an expression).
	source := map[string]string{}
	star := false
	for i, n := range sel.GetTargetList() {
		rt := n.GetResTarget()
		if rt == nil {
			continue
		}
		col, isStar := columnRefName(rt.GetVal())
		if isStar {
			star = true
			continue
		}
		name := rt.GetName()
		if name == "" {
			name = col
		}
		if name == "" && i < len(outputs) {
			name = outputs[i]
		}
		source[name] = col
	}
	has := func(name string) bool { return slices.Contains(outputs, name) }
	// outputOf names the output column that carries source column col: col itself when self
	// says it is an output under its own name, else the first output (by name) that is a plain
	// reference to col; "" when none.
	outputOf := func(col string, self bool) string {
		if self {
			return col
		}
		for _, name := range slices.Sorted(maps.Keys(source)) {
			if source[name] == col && has(name) {
				return name
			}
		}
		return ""
	}

	if d := sel.GetDistinctClause(); len(d) > 0 {
		plain := true
		for _, n := range d {
			if n != nil && n.GetNode() != nil {
				plain = false
			}
		}
		if plain && len(outputs) > 0 && len(outputs) <= maxDistinctKey && !hasDuplicates(outputs) {
			return &IndexSuggestion{Columns: slices.Clone(outputs), Unique: true,
				Reason: "SELECT DISTINCT makes the whole row unique"}
		}
		return nil
	}
	if g := sel.GetGroupClause(); len(g) > 0 {
		var key []string
		for _, n := range g {
			if n.GetGroupingSet() != nil {
				return nil // ROLLUP/CUBE/GROUPING SETS repeat keys with NULLs
			}
			if c := n.GetAConst(); c != nil && c.GetIval() != nil {
				pos := int(c.GetIval().GetIval())
				if pos < 1 || pos > len(outputs) {
					return nil
				}
				key = append(key, outputs[pos-1])
				continue
			}
			col, _ := columnRefName(n)
			if col == "" {
				return nil // an expression key: no output column carries it by name
			}
			out := outputOf(col, has(col) && (source[col] == col || source[col] == ""))
			if out == "" {
				return nil
			}
			if !slices.Contains(key, out) {
				key = append(key, out)
			}
		}
		return &IndexSuggestion{Columns: key, Unique: true, Reason: "the GROUP BY keys are unique in the result"}
	}
	from := sel.GetFromClause()
	if len(from) != 1 || primaryKey == nil || sel.GetHavingClause() != nil {
		return nil
	}
	rv := from[0].GetRangeVar()
	if rv == nil {
		return nil
	}
	pk := primaryKey(rv.GetSchemaname(), rv.GetRelname())
	if len(pk) == 0 {
		return nil
	}
	var key []string
	for _, c := range pk {
		out := outputOf(c, star && has(c))
		if out == "" {
			return nil
		}
		key = append(key, out)
	}
	return &IndexSuggestion{Columns: key, Unique: true,
		Reason: "the primary key of " + rv.GetRelname() + " is in the output of a single-table SELECT"}
}

// columnRefName returns the last name of a column reference (t.col -> col), and whether the
// reference is a star.
func columnRefName(n *pg_query.Node) (string, bool) {
	cr := n.GetColumnRef()
	if cr == nil {
		return "", false
	}
	fields := cr.GetFields()
	if len(fields) == 0 {
		return "", false
	}
	last := fields[len(fields)-1]
	if last.GetAStar() != nil {
		return "", true
	}
	return last.GetString_().GetSval(), false
}

func hasDuplicates(names []string) bool {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return true
		}
		seen[n] = true
	}
	return false
}
