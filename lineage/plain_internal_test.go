package lineage

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPlainNodesRoundTrip: for every view of the corpus and the fuzz findings whose tree has
// only plain nodes (so canonical skips the round-trip check), the full check of Deparse
// passes and gives the same text: the skipped check would have found nothing.
func TestPlainNodesRoundTrip(t *testing.T) {
	var files []string
	for _, g := range []string{"testdata/corpus/*.sql", "testdata/fuzz/FuzzSources/*"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) < 40 {
		t.Fatalf("found %d corpus files, want the corpus", len(files))
	}
	plain, verified := 0, 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sql := string(b)
		if strings.HasPrefix(sql, "go test fuzz v1") {
			sql = fuzzString(t, sql)
		}
		q, err := Parse(sql)
		if err != nil {
			continue
		}
		if !q.plainNodes {
			verified++
			continue
		}
		plain++
		fast, err := q.canonical()
		if err != nil {
			t.Errorf("%s: canonical: %v", f, err)
			continue
		}
		q2, _ := Parse(sql)
		full, err := q2.Deparse()
		if err != nil || full != fast {
			t.Errorf("%s: plain tree, but the full check says %q, %v (one deparse: %q)", f, full, err, fast)
		}
	}
	t.Logf("%d plain trees (one deparse), %d verified by the round trip", plain, verified)
	if plain == 0 || verified == 0 {
		t.Errorf("want both kinds in the corpus: %d plain, %d verified", plain, verified)
	}
}

// fuzzString reads the single string of a go fuzz corpus file.
func fuzzString(t *testing.T, file string) string {
	t.Helper()
	lines := strings.SplitN(file, "\n", 2)
	if len(lines) != 2 {
		return ""
	}
	v := strings.TrimSpace(lines[1])
	v = strings.TrimSuffix(strings.TrimPrefix(v, "string("), ")")
	s, err := strconv.Unquote(v)
	if err != nil {
		t.Fatalf("fuzz corpus entry %q: %v", v, err)
	}
	return s
}
