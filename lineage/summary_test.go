package lineage_test

import (
	"os"
	"slices"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/agentmv/agentmv/lineage"
)

// TestSummaryIsWrong shows why lineage walks the tree itself instead of using
// pg_query.Summary: Summary keeps CTE names as one flat, unscoped set that ignores schema
// qualification, so it drops real tables that share a name with a CTE elsewhere. Each SQL is a
// corpus case; its golden (testdata/corpus/<case>.json) records our answer.
func TestSummaryIsWrong(t *testing.T) {
	cases := []struct {
		file string
		want []string // our relations, as written
	}{
		// The outer t is a real table: the CTE t is only visible inside the derived table.
		{"cte_nested_scope_leak", []string{"public.users", "t"}},
		// A schema-qualified name is never a CTE reference.
		{"cte_qualified_not_shadowed", []string{"public.a"}},
		// Inside its own (non-recursive) body, the CTE users is not visible yet.
		{"cte_self_named", []string{"users"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			sql, err := os.ReadFile("testdata/corpus/" + tc.file + ".sql")
			if err != nil {
				t.Fatal(err)
			}
			q, err := lineage.Parse(string(sql))
			if err != nil {
				t.Fatal(err)
			}
			var ours []string
			for _, r := range q.Relations() {
				ours = append(ours, r.String())
			}
			if !slices.Equal(ours, tc.want) {
				t.Errorf("Relations = %v, want %v", ours, tc.want)
			}
			sum, err := pg_query.Summary(string(sql), -1)
			if err != nil {
				t.Fatal(err)
			}
			var theirs []string
			for _, tb := range sum.Tables {
				theirs = append(theirs, tb.Name)
			}
			slices.Sort(theirs)
			sorted := slices.Sorted(slices.Values(tc.want))
			if slices.Equal(theirs, sorted) {
				t.Errorf("pg_query.Summary now agrees (%v): the workaround may be unnecessary", theirs)
			}
			t.Logf("ours %v, Summary %v", ours, theirs)
		})
	}
}
