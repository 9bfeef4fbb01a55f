package lineage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentmv/agentmv/lineage"
)

// FuzzSources feeds arbitrary text through the whole pipeline (parse, validation, relations,
// functions, deparse, hash, lineage with and without a catalog). It must never panic, and
// whatever parses must deparse to SQL that parses again to the same hash. Seeds: the corpus.
func FuzzSources(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.sql")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, sql string) {
		q, err := lineage.Parse(sql)
		if err != nil {
			return
		}
		_ = q.Relations()
		_ = q.Functions()
		_ = q.TableFunctions()
		deparsed, err := q.Deparse()
		if err != nil {
			if !errors.Is(err, lineage.ErrDeparse) {
				t.Fatalf("Deparse error of the wrong kind: %v", err)
			}
			return // refused, not mis-printed: Deparse verified the round trip
		}
		// The deparsed text is what agentmv runs: it must be accepted again, and be a fixed point.
		q2, err := lineage.Parse(deparsed)
		if err != nil {
			t.Fatalf("deparsed text rejected: %v\ninput: %q\ndeparsed: %q", err, sql, deparsed)
		}
		if again, _ := q2.Deparse(); again != deparsed {
			t.Fatalf("deparse is not a fixed point:\n%q\n%q", deparsed, again)
		}
		_, _ = lineage.Sources(sql, "agent_mv", isManaged)
		_, _ = q.Analyze(context.Background(), lineage.Options{TargetSchema: "agent_mv", Managed: isManaged, Resolver: catalog})
	})
}
