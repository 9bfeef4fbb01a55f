package lineage

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// reflectWalk is the reference: an ordered protoreflect walk (every populated message field
// in field-number order, lists in order, the set member of each oneof).
func reflectWalk(m protoreflect.Message, out *[]string, field string) {
	*out = append(*out, field+":"+string(m.Descriptor().Name()))
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() || !m.Has(fd) {
			continue
		}
		name := string(fd.Name())
		if fd.IsList() {
			l := m.Get(fd).List()
			for j := 0; j < l.Len(); j++ {
				reflectWalk(l.Get(j).Message(), out, name)
			}
			continue
		}
		reflectWalk(m.Get(fd).Message(), out, name)
	}
}

func fastWalk(m proto.Message, out *[]string, field string) {
	*out = append(*out, field+":"+string(m.ProtoReflect().Descriptor().Name()))
	eachChild(m, func(f string, c proto.Message) bool {
		fastWalk(c, out, f)
		return true
	})
}

func walkTestSQL(t *testing.T) []string {
	sqls := []string{
		"SELECT 1",
		`WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10)
		 SELECT n, 'x'::text, true, 1.5, B'101', NULL, ARRAY[1, 2][1], (SELECT max(n) FROM t) FROM t
		 JOIN LATERAL unnest(ARRAY[n]) WITH ORDINALITY u(a, o) ON true
		 WHERE n IN (1, 2) AND EXISTS (SELECT 1) AND n BETWEEN 1 AND 3 AND n IS NOT NULL
		 GROUP BY GROUPING SETS ((n), ()) HAVING count(*) FILTER (WHERE n > 1) > 0
		 WINDOW w AS (ORDER BY n ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
		 ORDER BY 1 DESC NULLS LAST LIMIT 5 OFFSET 1`,
		`SELECT * FROM XMLTABLE('/r' PASSING '<r/>'::xml COLUMNS a int PATH 'a'),
		 JSON_TABLE('[]'::jsonb, '$[*]' COLUMNS (b text PATH '$.b', NESTED PATH '$.c[*]' COLUMNS (c int PATH '$')))`,
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.sql"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sqls = append(sqls, string(b))
	}
	return sqls
}

// TestEachChildMatchesProtoreflect: eachChild visits exactly what an ordered protoreflect walk
// visits, in the same order, on every corpus file (statements of any kind).
func TestEachChildMatchesProtoreflect(t *testing.T) {
	n := 0
	for _, sql := range walkTestSQL(t) {
		tree, err := pg_query.Parse(sql)
		if err != nil {
			continue
		}
		var want, got []string
		reflectWalk(tree.ProtoReflect(), &want, "")
		fastWalk(tree, &got, "")
		if !slices.Equal(want, got) {
			t.Errorf("walks differ for %q:\nprotoreflect %v\neachChild    %v", sql, want, got)
		}
		n += len(want)
	}
	if n < 1000 {
		t.Errorf("only %d nodes compared; the corpus seems missing", n)
	}
}

func TestEachChildStops(t *testing.T) {
	tree, err := pg_query.Parse("SELECT a, b, c FROM t")
	if err != nil {
		t.Fatal(err)
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	calls := 0
	done := eachChild(sel, func(field string, _ proto.Message) bool {
		calls++
		return field != "target_list"
	})
	if done || calls != 1 {
		t.Errorf("eachChild after a false return: done=%v calls=%d, want false, 1", done, calls)
	}
	if !eachChild((*pg_query.SelectStmt)(nil), func(string, proto.Message) bool { return false }) {
		t.Error("eachChild on a nil message should visit nothing and return true")
	}
}

func BenchmarkWalkProtoreflect(b *testing.B) {
	tree, _ := pg_query.Parse(walkBenchSQL)
	for b.Loop() {
		var out []string
		reflectWalk(tree.ProtoReflect(), &out, "")
	}
}

func BenchmarkWalkEachChild(b *testing.B) {
	tree, _ := pg_query.Parse(walkBenchSQL)
	for b.Loop() {
		n := 0
		walkTree(tree, func(proto.Message) bool { n++; return true })
	}
}

const walkBenchSQL = `SELECT u.id, sum(o.total) AS spent, CASE WHEN count(*) > 3 THEN 'a' ELSE 'b' END
FROM public.users u JOIN public.orders o ON o.user_id = u.id
WHERE o.status = 'paid' AND EXISTS (SELECT 1 FROM public.accounts a WHERE a.user_id = u.id)
GROUP BY u.id ORDER BY spent DESC LIMIT 10`
