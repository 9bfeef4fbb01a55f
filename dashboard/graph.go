package dashboard

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nulab/autog"
	"github.com/nulab/autog/graph"
)

// Geometry of the lineage drawing, in SVG user units (px). Labels use a monospace font so
// their width can be computed without measuring text.
const (
	nodeHeight      = 28.0
	nodePadX        = 12.0
	charWidth       = 7.3 // 12px monospace advance, rounded up
	maxLabelRunes   = 40
	columnGap       = 90.0 // horizontal gap between layers (autog layer spacing)
	rowGap          = 14.0 // vertical gap between nodes of one layer (autog node spacing)
	componentGap    = 28.0 // vertical gap between disconnected sub-graphs
	graphMargin     = 12.0
	fancyLayoutEdge = 48 // components with more edges use the linear-time autog pipeline
)

type nodeKind int

const (
	kindTable nodeKind = iota
	kindView
)

// lineageNode is one node of the lineage graph before layout.
type lineageNode struct {
	id   string // "t:schema.table" or "v:name": unique across kinds
	name string
	kind nodeKind
	view *View // nil for tables and for views that are not managed
	// relkind is what a kindTable source is in the catalog (Edge.FromRelkind).
	relkind string
	label   string
	w       float64
}

type svgNode struct {
	Class, Title, Label string
	X, Y, W, H          string
	TextX, TextY        string
}

type svgEdge struct {
	Class, D, Title string
}

type svgGraph struct {
	Width, Height string
	Nodes         []svgNode
	Edges         []svgEdge
}

type point struct{ x, y float64 }

type placedNode struct {
	*lineageNode
	x, y float64
}

type placedEdge struct {
	from, to *lineageNode
	pts      []point
}

// layoutLineage lays the graph out left to right (sources on the left) and returns an SVG
// model. The result depends only on its inputs: nodes and edges are sorted, connected
// components are split and ordered here (autog orders components by map iteration), and each
// component is laid out on its own.
func layoutLineage(views []View, edges []Edge) svgGraph {
	nodes, es := lineageGraph(views, edges)
	if len(nodes) == 0 {
		return svgGraph{Width: "0", Height: "0"}
	}
	placed, routed, width, height := placeComponents(connectedComponents(nodes, es))
	return drawSVG(placed, routed, width, height)
}

// lineageGraph builds one node per managed view and per source, and the distinct edges
// between them, sorted by target then source.
func lineageGraph(views []View, edges []Edge) (map[string]*lineageNode, []placedEdge) {
	nodes := map[string]*lineageNode{}
	addNode := func(kind nodeKind, name string) *lineageNode {
		id := "v:" + name
		if kind == kindTable {
			id = "t:" + name
		}
		if n, ok := nodes[id]; ok {
			return n
		}
		n := &lineageNode{id: id, name: name, kind: kind, label: truncateLabel(name)}
		n.w = nodePadX*2 + charWidth*float64(utf8.RuneCountInString(n.label))
		nodes[id] = n
		return n
	}
	for i := range views {
		addNode(kindView, views[i].Name).view = &views[i]
	}
	type edgeKey struct{ from, to string }
	seen := map[edgeKey]bool{}
	var es []placedEdge
	for _, e := range edges {
		kind := kindView
		if e.FromKind == "table" {
			kind = kindTable
		}
		from, to := addNode(kind, e.From), addNode(kindView, e.To)
		if kind == kindTable && e.FromRelkind != "" {
			from.relkind = e.FromRelkind
		}
		if from == to || seen[edgeKey{from.id, to.id}] {
			continue
		}
		seen[edgeKey{from.id, to.id}] = true
		es = append(es, placedEdge{from: from, to: to})
	}
	slices.SortFunc(es, compareEdges)
	return nodes, es
}

// compareEdges orders edges by target, then source.
func compareEdges(a, b placedEdge) int {
	return cmp.Or(cmp.Compare(a.to.id, b.to.id), cmp.Compare(a.from.id, b.from.id))
}

// component is one connected sub-graph; root is its smallest node id.
type component struct {
	root  string
	nodes []*lineageNode
	edges []placedEdge
}

// connectedComponents splits the graph deterministically (union-find over sorted ids): big
// components first, then singletons; ties by their smallest id.
func connectedComponents(nodes map[string]*lineageNode, es []placedEdge) []*component {
	ids := slices.Sorted(maps.Keys(nodes))
	parent := make(map[string]string, len(ids))
	var find func(string) string
	find = func(x string) string {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, id := range ids {
		parent[id] = id
	}
	for _, e := range es {
		a, b := find(e.from.id), find(e.to.id)
		if a != b {
			if a < b {
				parent[b] = a
			} else {
				parent[a] = b
			}
		}
	}
	byRoot := map[string]*component{}
	var comps []*component
	for _, id := range ids {
		r := find(id)
		c := byRoot[r]
		if c == nil {
			c = &component{root: r}
			byRoot[r] = c
			comps = append(comps, c)
		}
		c.nodes = append(c.nodes, nodes[id])
	}
	for _, e := range es {
		c := byRoot[find(e.from.id)]
		c.edges = append(c.edges, e)
	}
	slices.SortStableFunc(comps, func(a, b *component) int {
		return cmp.Or(cmp.Compare(len(b.nodes), len(a.nodes)), cmp.Compare(a.root, b.root))
	})
	return comps
}

// placeComponents lays out each component with autog and stacks them top to bottom;
// singletons (views without lineage) go last, in one row-wrapped block. It returns the placed
// nodes and routed edges and the drawing's size including the margins.
func placeComponents(comps []*component) ([]placedNode, []placedEdge, float64, float64) {
	var placed []placedNode
	var routed []placedEdge
	y := graphMargin
	width := 0.0
	var singles []*lineageNode
	for _, c := range comps {
		if len(c.nodes) == 1 {
			singles = append(singles, c.nodes[0])
			continue
		}
		pn, pe, w, h := layoutComponent(c.nodes, c.edges)
		for _, n := range pn {
			n.x += graphMargin
			n.y += y
			placed = append(placed, n)
		}
		for _, e := range pe {
			for i := range e.pts {
				e.pts[i].x += graphMargin
				e.pts[i].y += y
			}
			routed = append(routed, e)
		}
		width = max(width, w)
		y += h + componentGap
	}
	if len(singles) > 0 {
		rowWidth := max(width, 600.0)
		x := 0.0
		for _, n := range singles {
			if x > 0 && x+n.w > rowWidth {
				x = 0
				y += nodeHeight + rowGap
			}
			placed = append(placed, placedNode{lineageNode: n, x: graphMargin + x, y: y})
			x += n.w + rowGap
			width = max(width, x-rowGap)
		}
		y += nodeHeight + componentGap
	}
	return placed, routed, width + 2*graphMargin, y - componentGap + graphMargin
}

// drawSVG turns the placed graph into the template's model, nodes by id and edges by target
// then source.
func drawSVG(placed []placedNode, routed []placedEdge, width, height float64) svgGraph {
	out := svgGraph{Width: num(width), Height: num(height)}
	slices.SortFunc(placed, func(a, b placedNode) int { return cmp.Compare(a.id, b.id) })
	for _, n := range placed {
		out.Nodes = append(out.Nodes, svgNode{
			Class: nodeClass(n.lineageNode),
			Title: nodeTitle(n.lineageNode),
			Label: n.label,
			X:     num(n.x), Y: num(n.y), W: num(n.w), H: num(nodeHeight),
			TextX: num(n.x + nodePadX), TextY: num(n.y + nodeHeight/2 + 4),
		})
	}
	slices.SortFunc(routed, compareEdges)
	for _, e := range routed {
		class := "edge"
		if e.from.kind == kindView {
			class = "edge from-view"
		}
		out.Edges = append(out.Edges, svgEdge{Class: class, D: edgePath(e.pts), Title: e.from.name + " → " + e.to.name})
	}
	return out
}

// layoutComponent runs autog on one connected component. autog lays out top to bottom, so
// node sizes go in transposed and coordinates come back transposed (left to right).
func layoutComponent(ns []*lineageNode, es []placedEdge) ([]placedNode, []placedEdge, float64, float64) {
	src := make(graph.EdgeSlice, 0, len(es))
	for _, e := range es {
		src = append(src, []string{e.from.id, e.to.id})
	}
	sizes := make(map[string]graph.Size, len(ns))
	byID := make(map[string]*lineageNode, len(ns))
	for _, n := range ns {
		sizes[n.id] = graph.Size{W: nodeHeight, H: n.w}
		byID[n.id] = n
	}
	opts := []autog.Option{
		autog.WithNodeSize(sizes),
		autog.WithLayerSpacing(columnGap),
		autog.WithNodeSpacing(rowGap),
		autog.WithCycleBreaking(autog.CycleBreakingDepthFirst),
	}
	if len(es) <= fancyLayoutEdge {
		// Network-simplex layering and weighted-median crossing reduction: the nicest
		// drawing, but super-linear; fine for the handful of views a project usually has.
		opts = append(opts, autog.WithEdgeRouting(autog.EdgeRoutingPolyline))
	} else {
		// Linear-time pipeline for large graphs (hundreds of views): layers by longest
		// path, input order kept (edges are sorted by target), straight edges.
		opts = append(opts,
			autog.WithLayering(autog.LayeringLongestPath),
			autog.WithOrdering(autog.OrderingNoop),
			autog.WithPositioning(autog.PositioningVAlign),
			autog.WithEdgeRouting(autog.EdgeRoutingStraight),
		)
	}
	l := autog.Layout(src, opts...)

	var pn []placedNode
	minX, minY := 0.0, 0.0
	first := true
	for _, n := range l.Nodes {
		ln := byID[n.ID]
		if ln == nil { // virtual nodes are not returned by default; be safe anyway
			continue
		}
		p := placedNode{lineageNode: ln, x: n.Y, y: n.X}
		if first || p.x < minX {
			minX = p.x
		}
		if first || p.y < minY {
			minY = p.y
		}
		first = false
		pn = append(pn, p)
	}
	var pe []placedEdge
	for _, e := range l.Edges {
		from, to := byID[e.FromID], byID[e.ToID]
		if from == nil || to == nil {
			continue
		}
		pts := make([]point, len(e.Points))
		for i, p := range e.Points {
			pts[i] = point{x: p[1], y: p[0]}
		}
		if e.ArrowHeadStart {
			slices.Reverse(pts)
		}
		pe = append(pe, placedEdge{from: from, to: to, pts: pts})
	}
	w, h := 0.0, 0.0
	for i := range pn {
		pn[i].x -= minX
		pn[i].y -= minY
		w = max(w, pn[i].x+pn[i].w)
		h = max(h, pn[i].y+nodeHeight)
	}
	for _, e := range pe {
		for i := range e.pts {
			e.pts[i].x -= minX
			e.pts[i].y -= minY
		}
	}
	return pn, pe, w, h
}

// edgePath draws an edge through its points with horizontal-tangent cubic segments.
func edgePath(pts []point) string {
	if len(pts) < 2 {
		return ""
	}
	var b strings.Builder
	b.WriteString("M")
	b.WriteString(num(pts[0].x) + " " + num(pts[0].y))
	for i := 1; i < len(pts); i++ {
		p, q := pts[i-1], pts[i]
		dx := (q.x - p.x) / 2
		b.WriteString(" C" + num(p.x+dx) + " " + num(p.y) + " " + num(q.x-dx) + " " + num(q.y) + " " + num(q.x) + " " + num(q.y))
	}
	return b.String()
}

func nodeClass(n *lineageNode) string {
	if n.kind == kindTable {
		return "node table"
	}
	if n.view == nil {
		return "node view unmanaged"
	}
	c := "node view"
	switch {
	case n.view.LastStatus == "failed":
		c += " failed"
	case n.view.Stale:
		c += " stale"
	}
	if n.view.Running {
		c += " running"
	}
	return c
}

func nodeTitle(n *lineageNode) string {
	if n.kind == kindTable {
		switch n.relkind {
		case "", "table":
			return n.name + " (base table)"
		case "view", "materialized view":
			return n.name + " (" + n.relkind + " not managed by agentmv)"
		}
		return n.name + " (" + n.relkind + ")"
	}
	if n.view == nil {
		return n.name + " (view not managed by this schema)"
	}
	s := n.name + " (view"
	if n.view.LastStatus != "" {
		s += ", last refresh " + n.view.LastStatus
	}
	if n.view.Stale {
		s += ", stale"
	}
	return s + ")"
}

func truncateLabel(s string) string {
	if utf8.RuneCountInString(s) <= maxLabelRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxLabelRunes-1]) + "…"
}

// num formats a coordinate with fixed precision so output is byte-stable.
func num(f float64) string {
	if f == 0 {
		return "0"
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}
