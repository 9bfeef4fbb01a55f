package lineage

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

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
