package lineage_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/lineage"
)

func TestGraphOrder(t *testing.T) {
	cases := []struct {
		name string
		deps map[string][]string
		want []string
	}{
		{"empty", map[string][]string{}, []string{}},
		{"independent ties by name", map[string][]string{"b": nil, "a": nil, "c": nil}, []string{"a", "b", "c"}},
		{"chain", map[string][]string{"c": {"b"}, "b": {"a"}, "a": nil}, []string{"a", "b", "c"}},
		{"diamond", map[string][]string{"d": {"b", "c"}, "c": {"a"}, "b": {"a"}, "a": nil}, []string{"a", "b", "c", "d"}},
		{"unknown deps ignored", map[string][]string{"a": {"public.users", "not_managed"}, "b": {"a"}}, []string{"a", "b"}},
		{"duplicate deps", map[string][]string{"b": {"a", "a"}, "a": nil}, []string{"a", "b"}},
		// A ready node with a smaller name goes first even when it became ready later.
		{"ties re-sorted as nodes become ready", map[string][]string{"z": nil, "m": nil, "a": {"z"}}, []string{"m", "z", "a"}},
		{"two roots", map[string][]string{"x": nil, "y": {"x"}, "b": nil, "c": {"b", "y"}}, []string{"b", "x", "y", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lineage.NewGraph(tc.deps).Order()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Order() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGraphWaves(t *testing.T) {
	cases := []struct {
		name string
		deps map[string][]string
		want [][]string
	}{
		{"chain", map[string][]string{"c": {"b"}, "b": {"a"}, "a": nil}, [][]string{{"a"}, {"b"}, {"c"}}},
		{"diamond", map[string][]string{"d": {"b", "c"}, "c": {"a"}, "b": {"a"}, "a": nil}, [][]string{{"a"}, {"b", "c"}, {"d"}}},
		{"wide", map[string][]string{"q": nil, "p": nil, "r": {"p"}, "s": {"q", "r"}}, [][]string{{"p", "q"}, {"r"}, {"s"}}},
		{"no edges", map[string][]string{"b": nil, "a": nil}, [][]string{{"a", "b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lineage.NewGraph(tc.deps).Waves()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("Waves() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGraphReach(t *testing.T) {
	// a <- b <- d, a <- c <- d, d <- e, f alone.
	g := lineage.NewGraph(map[string][]string{
		"a": nil, "b": {"a"}, "c": {"a"}, "d": {"b", "c"}, "e": {"d"}, "f": nil,
	})
	cases := []struct {
		name string
		got  []string
		want []string
	}{
		{"Descendants(a)", g.Descendants("a"), []string{"b", "c", "d", "e"}},
		{"Descendants(c)", g.Descendants("c"), []string{"d", "e"}},
		{"Descendants(e)", g.Descendants("e"), []string{}},
		{"Descendants(f)", g.Descendants("f"), []string{}},
		{"Descendants(unknown)", g.Descendants("nope"), []string{}},
		{"Ancestors(e)", g.Ancestors("e"), []string{"a", "b", "c", "d"}},
		{"Ancestors(b)", g.Ancestors("b"), []string{"a"}},
		{"Ancestors(a)", g.Ancestors("a"), []string{}},
		{"Upstream(d)", g.Upstream("d"), []string{"b", "c"}},
		{"Downstream(a)", g.Downstream("a"), []string{"b", "c"}},
		{"Downstream(e)", g.Downstream("e"), []string{}},
		{"Nodes", g.Nodes(), []string{"a", "b", "c", "d", "e", "f"}},
	}
	for _, tc := range cases {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	// Results are copies: changing them does not change the graph.
	up := g.Upstream("d")
	up[0] = "zzz"
	if got := g.Upstream("d"); got[0] != "b" {
		t.Errorf("Upstream returned the graph's own slice: after a write it is %v", got)
	}
}

func TestGraphCycles(t *testing.T) {
	cases := []struct {
		name string
		deps map[string][]string
		// want is the cycle in dependency direction, first node repeated at the end; any
		// rotation of it is accepted.
		want []string
	}{
		{"self", map[string][]string{"a": {"a"}}, []string{"a", "a"}},
		{"self among others", map[string][]string{"x": nil, "a": {"a", "x"}, "b": {"a"}}, []string{"a", "a"}},
		{"two", map[string][]string{"a": {"b"}, "b": {"a"}}, []string{"a", "b", "a"}},
		{"three behind a root", map[string][]string{
			"root": nil, "a": {"root", "c"}, "b": {"a"}, "c": {"b"}, "tail": {"c"},
		}, []string{"a", "b", "c", "a"}},
		{"four", map[string][]string{"w": {"z"}, "x": {"w"}, "y": {"x"}, "z": {"y"}}, []string{"w", "x", "y", "z", "w"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := lineage.NewGraph(tc.deps)
			_, errOrder := g.Order()
			_, errWaves := g.Waves()
			for _, err := range []error{errOrder, errWaves} {
				var ce *lineage.CycleError
				if !errors.As(err, &ce) {
					t.Fatalf("got %v (%T), want *lineage.CycleError", err, err)
				}
				if !isRotation(ce.Path, tc.want) {
					t.Errorf("cycle path %v, want a rotation of %v", ce.Path, tc.want)
				}
				// The message names the whole path, seed wording first.
				wantMsg := "cycle detected in MV dependency graph: " + strings.Join(ce.Path, " -> ")
				if err.Error() != wantMsg {
					t.Errorf("message %q, want %q", err.Error(), wantMsg)
				}
				// Each step of the path is a real edge: the next node reads the previous.
				for i := 0; i+1 < len(ce.Path); i++ {
					if !slices.Contains(g.Upstream(ce.Path[i+1]), ce.Path[i]) {
						t.Errorf("path step %s -> %s is not an edge (%s does not read %s)", ce.Path[i], ce.Path[i+1], ce.Path[i+1], ce.Path[i])
					}
				}
			}
		})
	}
}

// isRotation reports whether the closed path got (first node repeated last) is want rotated.
func isRotation(got, want []string) bool {
	if len(got) != len(want) || len(got) == 0 || got[0] != got[len(got)-1] {
		return false
	}
	g, w := got[:len(got)-1], want[:len(want)-1]
	for i := range w {
		if slices.Equal(g, append(slices.Clone(w[i:]), w[:i]...)) {
			return true
		}
	}
	return false
}
