package bench

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// The apply project: 200 views over the 1M-row events table, in chains and fans.
//
//	root (1M-row copy of events, unique id)
//	├── hub_K            K = 0..9: aggregate of the root's rows with grp % 10 = K (36,500 rows)
//	│   ├── chain_K_1 → chain_K_2 → … → chain_K_9   (a chain of 9, each reads the previous)
//	│   └── leaf_K_1 … leaf_K_9                       (a fan of 9 leaves on the hub)
//	└── join_K           K = 0..8: chain_K_9 joined with leaf_(K+1)_1 (diamonds across branches)
//
// 1 + 10 + 90 + 90 + 9 = 200 views. rootFilter and leafFilter pick one of two equivalent
// bodies (same rows, different SQL hash): flipping the root rebuilds all 200 views, flipping
// the changed leaf (leaf_9_9, which nothing reads) rebuilds 1.
const (
	applyHubs     = 10
	applyChainLen = 9
	applyFan      = 9
	changedLeaf   = "leaf_9_9"
)

var rootFilters = [2]string{"amount >= 0", "amount > -1"}
var leafFilters = [2]string{"n >= 0", "n > -1"}

func applyViews(rootVariant, leafVariant int) []view {
	vs := []view{{name: "root", unique: []string{"id"}, comment: "Every event with a non-negative amount.",
		sql: "SELECT id, grp, day, amount FROM public.events WHERE " + rootFilters[rootVariant]}}
	for k := range applyHubs {
		hub := fmt.Sprintf("hub_%d", k)
		vs = append(vs, view{name: hub, unique: []string{"grp", "day"}, comment: "Daily totals of one group family.",
			sql: fmt.Sprintf("SELECT grp, day, count(*) AS n, sum(amount) AS total FROM agent_mv.root WHERE grp %% %d = %d GROUP BY grp, day", applyHubs, k)})
		prev := hub
		for j := 1; j <= applyChainLen; j++ {
			name := fmt.Sprintf("chain_%d_%d", k, j)
			vs = append(vs, view{name: name,
				sql: fmt.Sprintf("SELECT grp, day, n, total + %d AS total FROM agent_mv.%s WHERE n > 0", j, prev)})
			prev = name
		}
		for j := 1; j <= applyFan; j++ {
			name := fmt.Sprintf("leaf_%d_%d", k, j)
			filter := "n >= 0"
			if name == changedLeaf {
				filter = leafFilters[leafVariant]
			}
			vs = append(vs, view{name: name, unique: []string{"day"},
				sql: fmt.Sprintf("SELECT day, sum(n) AS n, sum(total) AS total FROM agent_mv.%s WHERE grp %% %d = %d AND %s GROUP BY day", hub, applyFan, j-1, filter)})
		}
	}
	for k := range applyHubs - 1 {
		vs = append(vs, view{name: fmt.Sprintf("join_%d", k),
			sql: fmt.Sprintf("SELECT c.grp, c.day, c.total, l.total AS other_total FROM agent_mv.chain_%d_%d AS c LEFT JOIN agent_mv.leaf_%d_1 AS l ON l.day = c.day", k, applyChainLen, k+1)})
	}
	return vs
}

// TestApplyViewsShape checks the generated project without a database: 200 distinct names,
// every upstream defined before use, the changed leaf read by nobody, and the two variants
// differing only where intended.
func TestApplyViewsShape(t *testing.T) {
	vs := applyViews(0, 0)
	if len(vs) != 200 {
		t.Fatalf("%d views, want 200", len(vs))
	}
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v.name] {
			t.Errorf("duplicate view %s", v.name)
		}
		seen[v.name] = true
	}
	readers := map[string]int{}
	for _, v := range vs {
		for name := range seen {
			if containsWord(v.sql, "agent_mv."+name) {
				readers[name]++
			}
		}
	}
	if readers[changedLeaf] != 0 {
		t.Errorf("%s has %d readers, want 0", changedLeaf, readers[changedLeaf])
	}
	if readers["root"] != applyHubs {
		t.Errorf("root has %d readers, want %d", readers["root"], applyHubs)
	}
	diff := func(a, b []view) []string {
		var names []string
		for i := range a {
			if a[i].sql != b[i].sql {
				names = append(names, a[i].name)
			}
		}
		return names
	}
	if got := diff(vs, applyViews(0, 1)); !slices.Equal(got, []string{changedLeaf}) {
		t.Errorf("leaf flip changes %v, want [%s]", got, changedLeaf)
	}
	if got := diff(vs, applyViews(1, 0)); !slices.Equal(got, []string{"root"}) {
		t.Errorf("root flip changes %v, want [root]", got)
	}
}

// containsWord reports whether s contains w followed by a non-identifier byte or the end.
func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w && (i+len(w) == len(s) || !isIdent(s[i+len(w)])) {
			return true
		}
	}
	return false
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// applyFixture is the applied 200-view project and which variants the database holds.
type applyFixture struct {
	proj       *project
	root, leaf int
	firstApply time.Duration
}

var applyFix lazy[*applyFixture]

func getApplyFixture(b *testing.B) *applyFixture {
	return applyFix.get(b, func(tb testing.TB) *applyFixture {
		p := newProject(tb, eventsSQL(baseRows))
		p.writeConfig(tb, applyViews(0, 0))
		res := p.apply(tb)
		if n := len(res.Plan.CreateOrder); n != 200 {
			tb.Fatalf("first apply created %d views, want 200", n)
		}
		return &applyFixture{proj: p, firstApply: res.Elapsed}
	})
}

// flip rewrites the SQL file of the root or of the changed leaf to its other variant.
func (f *applyFixture) flip(tb testing.TB, root bool) {
	vs := applyViews(1-f.root, 1-f.leaf)
	name := changedLeaf
	if root {
		name = "root"
		f.root = 1 - f.root
	} else {
		f.leaf = 1 - f.leaf
	}
	for _, v := range vs {
		if v.name == name {
			f.proj.writeSQL(tb, v.name, v.sql)
		}
	}
}

// BenchmarkApplyNoOp: `agent-mv apply` (open, plan inside the apply transaction, no change,
// commit) on the applied 200-view project. Reports seconds per apply; goal ≤ 1 s and 0 views
// rebuilt, which it asserts.
func BenchmarkApplyNoOp(b *testing.B) {
	f := getApplyFixture(b)
	var times []time.Duration
	for b.Loop() {
		t0 := time.Now()
		res := f.proj.apply(b)
		times = append(times, time.Since(t0))
		if len(res.Plan.CreateOrder) != 0 || len(res.Plan.DropOrder) != 0 {
			b.Fatalf("no-op apply rebuilt %v and dropped %v, want nothing", res.Plan.CreateOrder, res.Plan.DropOrder)
		}
		if n := len(res.Plan.Steps); n != 200 {
			b.Fatalf("plan has %d steps, want 200", n)
		}
	}
	b.ReportMetric(medianDuration(times)/float64(time.Second), "noop-s/op")
	b.ReportMetric(0, "rebuilt")
}

// BenchmarkApplyLeafVsFull: apply after changing one leaf of the 200 views (1 rebuilt) ÷
// apply after changing the root (all 200 dropped and rebuilt), timed back to back. Goal ≤ 0.05.
func BenchmarkApplyLeafVsFull(b *testing.B) {
	f := getApplyFixture(b)
	leaf := func() {
		f.flip(b, false)
		res := f.proj.apply(b)
		if !slices.Equal(res.Plan.CreateOrder, []string{changedLeaf}) {
			b.Fatalf("leaf change rebuilt %v, want [%s]", res.Plan.CreateOrder, changedLeaf)
		}
	}
	full := func() {
		f.flip(b, true)
		res := f.proj.apply(b)
		if n := len(res.Plan.CreateOrder); n != 200 {
			b.Fatalf("root change rebuilt %d views, want 200", n)
		}
	}
	var p pairs
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			tl := timed(leaf)
			p.add(tl, timed(full))
		} else {
			tf := timed(full)
			p.add(timed(leaf), tf)
		}
	}
	p.report(b, "leaf", "full", "ms")
	b.ReportMetric(float64(f.firstApply)/float64(time.Millisecond), "first-apply-ms")
}
