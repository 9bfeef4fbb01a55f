package agentmv

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/agentmv/agentmv/boundary"
)

// How plan compares a view's recorded indexes with the ones materialize.yaml declares.

// declaresUnique reports whether materialize.yaml gives the view a unique index.
func declaresUnique(ixs []boundary.Index) bool {
	return slices.ContainsFunc(ixs, func(ix boundary.Index) bool { return ix.Unique })
}

func sameIndexes(recorded, desired []boundary.Index, view string) bool {
	removed, added := indexDiff(recorded, desired, view)
	return len(removed) == 0 && len(added) == 0
}

// indexName is the index's name on view (its own, or the seed's naming).
func indexName(view string, ix boundary.Index) string {
	if ix.Name != "" {
		return ix.Name
	}
	return boundary.IndexName(view, ix.Columns)
}

// indexDiff compares the recorded indexes of view with the desired ones by name, columns and
// uniqueness: removed are recorded but not desired, added desired but not recorded, both
// sorted by name. A changed definition under the same name is both removed and added.
func indexDiff(recorded, desired []boundary.Index, view string) (removed, added []boundary.Index) {
	key := func(ix boundary.Index) string {
		return fmt.Sprintf("%s:%s:%v", indexName(view, ix), strings.Join(ix.Columns, ","), ix.Unique)
	}
	minus := func(a, b []boundary.Index) []boundary.Index {
		in := map[string]bool{}
		for _, ix := range b {
			in[key(ix)] = true
		}
		var out []boundary.Index
		for _, ix := range a {
			if !in[key(ix)] {
				out = append(out, ix)
			}
		}
		sort.Slice(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
		return out
	}
	return minus(recorded, desired), minus(desired, recorded)
}

// indexChange describes, for a plan reason, what happens to the view's indexes (empty when
// nothing), and records the names in s. Removing the last unique index is called out: the
// view's refreshes then fall back to blocking mode, which locks out readers.
func indexChange(recorded, desired []boundary.Index, view string, s *Step) string {
	removed, added := indexDiff(recorded, desired, view)
	describe := func(ix boundary.Index) string {
		kind := "index"
		if ix.Unique {
			kind = "unique index"
		}
		return fmt.Sprintf("%s %s (%s)", kind, indexName(view, ix), strings.Join(ix.Columns, ", "))
	}
	var parts []string
	for _, ix := range removed {
		parts = append(parts, "removes "+describe(ix))
		s.IndexesRemoved = append(s.IndexesRemoved, indexName(view, ix))
	}
	for _, ix := range added {
		parts = append(parts, "adds "+describe(ix))
		s.IndexesAdded = append(s.IndexesAdded, indexName(view, ix))
	}
	if declaresUnique(recorded) && !declaresUnique(desired) {
		parts = append(parts, "no unique index is left, so refreshes fall back to blocking (readers wait while it runs)")
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}
