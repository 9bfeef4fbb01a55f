package lineage

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Graph is the dependency graph of managed views: deps[v] lists the views v reads.
// Dependencies on names that are not keys are ignored (they are not managed views).
type Graph struct {
	deps map[string][]string
	down map[string][]string
}

// CycleError reports a dependency cycle with its full path, first node repeated at the end.
type CycleError struct{ Path []string }

func (e *CycleError) Error() string {
	return "cycle detected in MV dependency graph: " + strings.Join(e.Path, " -> ")
}

// NewGraph builds a graph from view -> upstream views.
func NewGraph(deps map[string][]string) *Graph {
	g := &Graph{deps: map[string][]string{}, down: map[string][]string{}}
	for v := range deps {
		g.deps[v] = nil
	}
	for v, ups := range deps {
		for _, u := range sortedUnique(ups) {
			if _, ok := g.deps[u]; ok {
				g.deps[v] = append(g.deps[v], u)
				g.down[u] = append(g.down[u], v)
			}
		}
	}
	for u := range g.down {
		sort.Strings(g.down[u])
	}
	return g
}

// Nodes returns every view, sorted.
func (g *Graph) Nodes() []string {
	out := make([]string, 0, len(g.deps))
	for v := range g.deps {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Upstream returns the managed views v reads directly.
func (g *Graph) Upstream(v string) []string { return slices.Clone(g.deps[v]) }

// Downstream returns the managed views that read v directly.
func (g *Graph) Downstream(v string) []string { return slices.Clone(g.down[v]) }

// Waves returns Kahn levels: wave 0 has no upstream views, wave k only depends on earlier
// waves; names are sorted within a wave. A cycle is a *CycleError.
func (g *Graph) Waves() ([][]string, error) {
	indeg, wave := g.indegrees()
	var waves [][]string
	done := 0
	for len(wave) > 0 {
		sort.Strings(wave)
		waves = append(waves, wave)
		done += len(wave)
		var next []string
		for _, v := range wave {
			for _, d := range g.down[v] {
				indeg[d]--
				if indeg[d] == 0 {
					next = append(next, d)
				}
			}
		}
		wave = next
	}
	if done < len(g.deps) {
		return nil, g.cycle(indeg)
	}
	return waves, nil
}

// Order returns a topological order (dependencies first), ties broken by name.
func (g *Graph) Order() ([]string, error) {
	indeg, ready := g.indegrees()
	out := make([]string, 0, len(g.deps))
	for len(ready) > 0 {
		v := ready[0]
		ready = ready[1:]
		out = append(out, v)
		for _, d := range g.down[v] {
			indeg[d]--
			if indeg[d] == 0 {
				i := sort.SearchStrings(ready, d)
				ready = slices.Insert(ready, i, d)
			}
		}
	}
	if len(out) < len(g.deps) {
		return nil, g.cycle(indeg)
	}
	return out, nil
}

// indegrees returns each view's number of upstream views, and the views with none, sorted.
func (g *Graph) indegrees() (map[string]int, []string) {
	indeg := make(map[string]int, len(g.deps))
	var roots []string
	for v, ups := range g.deps {
		indeg[v] = len(ups)
		if len(ups) == 0 {
			roots = append(roots, v)
		}
	}
	sort.Strings(roots)
	return indeg, roots
}

// cycle finds one cycle among the nodes left with in-degree > 0.
func (g *Graph) cycle(indeg map[string]int) error {
	var start string
	for _, v := range g.Nodes() {
		if indeg[v] > 0 {
			start = v
			break
		}
	}
	// Walk upstream edges among remaining nodes until a node repeats.
	pos := map[string]int{}
	var path []string
	for v := start; ; {
		if i, ok := pos[v]; ok {
			cyc := append(slices.Clone(path[i:]), v)
			slices.Reverse(cyc) // report in dependency direction: a -> b means a is read by b
			return &CycleError{Path: cyc}
		}
		pos[v] = len(path)
		path = append(path, v)
		next := ""
		for _, u := range g.deps[v] {
			if indeg[u] > 0 {
				next = u
				break
			}
		}
		if next == "" {
			return fmt.Errorf("cycle detected in MV dependency graph involving %s", start)
		}
		v = next
	}
}

// Descendants returns every view that depends on v directly or transitively, sorted.
func (g *Graph) Descendants(v string) []string { return g.reach(v, g.down) }

// Ancestors returns every view v depends on directly or transitively, sorted.
func (g *Graph) Ancestors(v string) []string { return g.reach(v, g.deps) }

func (g *Graph) reach(v string, edges map[string][]string) []string {
	seen := map[string]bool{}
	stack := slices.Clone(edges[v])
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		stack = append(stack, edges[n]...)
	}
	delete(seen, v)
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
