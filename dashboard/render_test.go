package dashboard

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentmv/agentmv/internal/testutil"
)

func render(t testing.TB, s State) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, s); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return b.Bytes()
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name  string
		state State
	}{
		{"demo", demoState()},
		{"empty", State{GeneratedAt: fixedNow, Schema: "agent_mv"}},
		{"views_without_lineage", State{GeneratedAt: fixedNow, Schema: "analytics", Views: []View{
			{Name: "b_view", Description: "no sources recorded", Populated: true},
			{Name: "a_view", Description: "constant view", Populated: true, LastStatus: "success",
				LastRefreshedAt: ptr(fixedNow.Add(-50 * time.Hour)), RowsAfter: ptr[int64](1), LastDurationMs: ptr[int64](3)},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first := render(t, tc.state)
			second := render(t, tc.state)
			if !bytes.Equal(first, second) {
				t.Fatalf("two renders of the same state differ:\n%s", cmp.Diff(string(first), string(second)))
			}
			testutil.CheckGolden(t, filepath.Join("testdata", tc.name+".html"), first)
		})
	}
}

// TestRenderInputOrderIrrelevant shuffles the input slices: the output must not change.
func TestRenderInputOrderIrrelevant(t *testing.T) {
	s := demoState()
	want := render(t, s)
	r := demoState()
	reverse := func(n int, swap func(i, j int)) {
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			swap(i, j)
		}
	}
	reverse(len(r.Views), func(i, j int) { r.Views[i], r.Views[j] = r.Views[j], r.Views[i] })
	reverse(len(r.History), func(i, j int) { r.History[i], r.History[j] = r.History[j], r.History[i] })
	reverse(len(r.Edges), func(i, j int) { r.Edges[i], r.Edges[j] = r.Edges[j], r.Edges[i] })
	reverse(len(r.Tools), func(i, j int) { r.Tools[i], r.Tools[j] = r.Tools[j], r.Tools[i] })
	if got := render(t, r); !bytes.Equal(want, got) {
		t.Fatalf("output depends on input order:\n%s", cmp.Diff(string(want), string(got)))
	}
}

func TestRenderLargeDeterministic(t *testing.T) {
	s := bigState(500, 10_000)
	a, b := render(t, s), render(t, s)
	if !bytes.Equal(a, b) {
		t.Fatal("two renders of a 500-view state differ")
	}
	for _, v := range []string{"view_0000", "view_0499", "public.table_124"} {
		if !bytes.Contains(a, []byte(">"+v+"</text>")) {
			t.Errorf("graph has no node labelled %s", v)
		}
	}
}

func TestRenderEscapes(t *testing.T) {
	const attack = `<script>alert("x")</script>`
	s := demoState()
	s.Schema = `agent_mv"><script>alert(1)</script>`
	s.Views[0].Description = attack
	s.Views[0].LastError = `</td><img src=x onerror=alert(1)>`
	s.Views[1].ModeReason = `" onmouseover="alert(1)`
	s.Edges = append(s.Edges, Edge{From: `public.<b>evil</b>`, To: "customer_rollup", FromKind: "table"})
	s.History[0].Error = attack
	out := string(render(t, s))
	for _, bad := range []string{"<script>", "<img", "<b>evil", `" onmouseover="`} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "public.&lt;b&gt;evil&lt;/b&gt;"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks the escaped text %q", want)
		}
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "in the future"},
		{0, "0s ago"},
		{59 * time.Second, "59s ago"},
		{6 * time.Minute, "6m ago"},
		{6*time.Hour + 59*time.Minute, "6h ago"},
		{47 * time.Hour, "47h ago"},
		{72 * time.Hour, "3d ago"},
	}
	for _, tc := range tests {
		if got := age(fixedNow, fixedNow.Add(-tc.d)); got != tc.want {
			t.Errorf("age(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{durationMs(12), "12 ms"},
		{durationMs(1840), "1.8 s"},
		{durationMs(125_000), "2m 05s"},
		{rows(ptr[int64](1234567)), "1,234,567"},
		{rows(ptr[int64](-1000)), "-1,000"},
		{rows(nil), "—"},
		{shortDuration(90 * time.Minute), "1h30m"},
		{shortDuration(time.Hour), "1h"},
		{shortDuration(48 * time.Hour), "2d"},
		{shortDuration(15 * time.Minute), "15m"},
	}
	for i, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("case %d: got %q, want %q", i, tc.got, tc.want)
		}
	}
}

func BenchmarkRender500Views10kHistory(b *testing.B) {
	s := bigState(500, 10_000)
	var buf bytes.Buffer
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		buf.Reset()
		if err := Render(&buf, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/build")
	b.ReportMetric(float64(buf.Len())/1024, "KiB")
}

// TestRenderMediumDeterministic covers the crossing-minimising autog pipeline (components of
// up to fancyLayoutEdge edges), whose internals iterate Go maps.
func TestRenderMediumDeterministic(t *testing.T) {
	for _, n := range []int{8, 15, 20} {
		s := bigState(n, 200)
		want := render(t, s)
		for range 5 {
			if got := render(t, s); !bytes.Equal(want, got) {
				t.Fatalf("%d views: renders differ:\n%s", n, cmp.Diff(string(want), string(got)))
			}
		}
	}
}
