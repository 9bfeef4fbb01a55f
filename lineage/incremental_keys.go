package lineage

import (
	"context"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// timeDependent are built-in functions whose value changes without any table changing (or
// differs between two evaluations): a view using them cannot be kept current by captured
// changes.
var timeDependent = []string{
	"now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday",
	"random", "random_normal", "setseed", "gen_random_uuid", "uuidv4", "uuidv7",
	"nextval", "currval", "lastval", "current_setting", "txid_current", "txid_current_if_assigned",
	"txid_current_snapshot", "pg_current_xact_id", "pg_current_xact_id_if_assigned",
	"pg_current_snapshot", "pg_backend_pid", "inet_client_addr", "inet_client_port",
	"pg_postmaster_start_time", "pg_conf_load_time",
}

// orderDependent aggregates give a different result for a different input order, so a
// recomputed group could differ from a full refresh unless they are ordered.
var orderDependent = []string{
	"array_agg", "string_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg",
	"xmlagg", "json_arrayagg", "json_objectagg", "json_agg_strict", "jsonb_agg_strict",
}

// functions rejects functions whose value is not determined by the rows (volatile, time or
// session dependent, or user-defined and not IMMUTABLE, which could read other tables) and
// order-dependent aggregates without ORDER BY; it notes whether the query aggregates.
func (inc *Incremental) functions(ctx context.Context, opts IncrementalOptions) error {
	q := inc.q
	fns := q.Functions()
	infos := map[string]FunctionInfo{}
	if len(fns) > 0 {
		list, err := opts.Catalog.Functions(ctx, fns)
		if err != nil {
			return err
		}
		for i, f := range fns {
			if i < len(list) {
				infos[f.String()] = list[i]
			}
		}
	}
	var err error
	walkTree(q.stmt, func(m proto.Message) bool {
		fc, ok := m.(*pg_query.FuncCall)
		if !ok || err != nil {
			return err == nil
		}
		ref := funcRef(fc.Funcname)
		info := infos[ref.String()]
		name := ref.Name
		switch {
		case (ref.Schema == "" || ref.Schema == "pg_catalog") && slices.Contains(timeDependent, name):
			err = q.notIncremental(int(fc.Location), "%s() is not supported: its value changes without any table changing, so captured changes cannot keep the view current", name)
		case info.Volatility == "v":
			err = q.notIncremental(int(fc.Location), "%s() is VOLATILE: two evaluations can differ, so a recomputed row could differ from a full refresh", ref)
		case info.Volatility == "s" && info.Schema != "pg_catalog":
			err = q.notIncremental(int(fc.Location), "%s() is STABLE, not IMMUTABLE: it may read tables whose changes are not captured; mark it IMMUTABLE if it only computes from its arguments", ref)
		}
		agg := info.Aggregate || fc.AggStar || fc.AggDistinct || len(fc.AggOrder) > 0 || fc.AggFilter != nil || fc.AggWithinGroup
		if err == nil && agg {
			inc.hasAggregate = true
			if slices.Contains(orderDependent, name) && len(fc.AggOrder) == 0 {
				err = q.notIncremental(int(fc.Location), "%s() without ORDER BY is not supported: its result depends on the order rows are read in; add ORDER BY inside it, e.g. %s(x ORDER BY x)", name, name)
			}
		}
		return err == nil
	})
	return err
}

// target is one column of the view's SELECT list, with * expanded.
type target struct {
	name string
	expr *pg_query.Node
}

// expandTargets lists the SELECT list with * and a.* expanded into column references.
func (inc *Incremental) expandTargets(a *Analysis) ([]target, error) {
	var out []target
	for _, t := range inc.q.stmt.TargetList {
		rt := t.GetResTarget()
		if cr := rt.GetVal().GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			occ, _, err := inc.resolve(cr)
			if err != nil {
				return nil, err
			}
			for _, o := range occ {
				for _, c := range o.table.Columns {
					out = append(out, target{expr: pg_query.MakeColumnRefNode([]*pg_query.Node{
						pg_query.MakeStrNode(o.alias), pg_query.MakeStrNode(c.Name)}, -1)})
				}
			}
			continue
		}
		out = append(out, target{expr: rt.Val})
	}
	if len(out) != len(a.OutputColumns) {
		return nil, inc.q.notIncremental(-1, "cannot match the SELECT list (%d columns) to the view's columns (%d)", len(out), len(a.OutputColumns))
	}
	for i := range out {
		out[i].name = a.OutputColumns[i]
	}
	return out, nil
}

// columnOf returns the occurrence and column a plain column reference reads.
func (inc *Incremental) columnOf(n *pg_query.Node) (*occurrence, string, bool) {
	cr := n.GetColumnRef()
	if cr == nil {
		return nil, "", false
	}
	occ, col, err := inc.resolve(cr)
	if err != nil || len(occ) != 1 || col == "*" {
		return nil, "", false
	}
	return occ[0], col, true
}

// nullable reports whether an output expression can be NULL: only a NOT NULL column of a
// table that is never null-extended is known not to be.
func (inc *Incremental) nullable(n *pg_query.Node) bool {
	o, col, ok := inc.columnOf(n)
	if !ok || o.nullable {
		return true
	}
	c, _ := o.table.column(col)
	return !c.NotNull
}

// sameExpr compares two expressions: column references by what they read, anything else by
// its canonical text.
func (inc *Incremental) sameExpr(x, y *pg_query.Node) bool {
	ox, cx, okx := inc.columnOf(x)
	oy, cy, oky := inc.columnOf(y)
	if okx || oky {
		return okx && oky && ox == oy && cx == cy
	}
	sx, errx := inc.deparseExpr(x)
	sy, erry := inc.deparseExpr(y)
	return errx == nil && erry == nil && sx == sy
}

// groupKey maps every GROUP BY item to a column of the view: the rows of a group are found
// in the view by those columns.
func (inc *Incremental) groupKey(targets []target) error {
	q := inc.q
	inc.Shape = ShapeGrouped
	for _, g := range q.stmt.GroupClause {
		idx := -1
		switch {
		case g.GetAConst() != nil && g.GetAConst().GetIval() != nil:
			idx = int(g.GetAConst().GetIval().Ival) - 1
		case g.GetColumnRef() != nil && len(g.GetColumnRef().Fields) == 1:
			if occ, _, err := inc.resolve(g.GetColumnRef()); err == nil && len(occ) == 0 {
				name := g.GetColumnRef().Fields[0].GetString_().GetSval()
				idx = slices.IndexFunc(targets, func(t target) bool { return t.name == name })
				break
			}
			fallthrough
		default:
			idx = slices.IndexFunc(targets, func(t target) bool { return inc.sameExpr(t.expr, g) })
		}
		if idx < 0 || idx >= len(targets) {
			text, _ := inc.deparseExpr(g)
			return q.notIncremental(locationOf(g), "GROUP BY %s is not in the SELECT list: select it too, so a changed group's row can be found in the view", text)
		}
		if slices.Contains(inc.Key, targets[idx].name) {
			continue
		}
		inc.Key = append(inc.Key, targets[idx].name)
		inc.KeyNullable = append(inc.KeyNullable, inc.nullable(targets[idx].expr))
		inc.keyExp = append(inc.keyExp, targets[idx].expr)
	}
	return nil
}

// rootKey finds the first table's primary key among the view's columns.
func (inc *Incremental) rootKey(targets []target) error {
	q := inc.q
	inc.Shape = ShapeRows
	root := inc.occ[0]
	inc.rootPK = root.table.PrimaryKey
	for _, pk := range root.table.PrimaryKey {
		idx := slices.IndexFunc(targets, func(t target) bool {
			o, c, ok := inc.columnOf(t.expr)
			return ok && o == root && c == pk
		})
		if idx < 0 {
			return q.notIncremental(root.location, "select %s.%s (the primary key of %s.%s): without GROUP BY, incremental refresh identifies the view's rows by the first table's primary key",
				root.alias, pk, root.table.Schema, root.table.Name)
		}
		inc.Key = append(inc.Key, targets[idx].name)
		inc.KeyNullable = append(inc.KeyNullable, false)
		inc.keyExp = append(inc.keyExp, targets[idx].expr)
	}
	return nil
}

// Describe says in one line how the view is maintained (for plans and docs).
func (inc *Incremental) Describe() string {
	var b strings.Builder
	switch inc.Shape {
	case ShapeGrouped:
		if len(inc.Key) == 0 {
			b.WriteString("one aggregate row, recomputed on any change")
		} else {
			b.WriteString("groups by (" + strings.Join(inc.Key, ", ") + ") recomputed where changes land")
		}
	default:
		b.WriteString("rows of changed " + inc.occ[0].table.Schema + "." + inc.occ[0].table.Name + " keys (" + strings.Join(inc.Key, ", ") + ") recomputed")
	}
	var srcs []string
	for _, s := range inc.Sources {
		srcs = append(srcs, s.Schema+"."+s.Name)
	}
	b.WriteString("; captures " + strings.Join(srcs, ", "))
	return b.String()
}
