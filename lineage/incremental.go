package lineage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// Incremental refresh (refresh_strategy: incremental) keeps a view exact by recomputing only
// the rows that captured changes can affect: the groups of a grouped or DISTINCT view, or the
// rows of one root-table row in a plain join. This file decides whether a view qualifies and
// describes how; incremental_sql.go writes the maintenance SQL. The rules and the reasoning
// behind them are in CONTRACTS.md ("Incremental refresh").

// ErrNotIncremental is wrapped when a view cannot be refreshed incrementally; the message
// names the construct and what to do instead.
var ErrNotIncremental = errors.New("not incrementally maintainable")

// SourceTable is what the catalog says about a relation an incremental view reads.
type SourceTable struct {
	Schema string
	Name   string
	// Kind is pg_class.relkind; only plain tables ('r') can be captured.
	Kind string
	// Columns in attnum order (dropped columns left out).
	Columns []SourceColumn
	// PrimaryKey lists the primary key's columns (empty without one).
	PrimaryKey []string
	// HasChildren: inheritance children or partitions, whose writes the parent's statement
	// triggers do not see.
	HasChildren bool
}

// SourceColumn is one column of a SourceTable.
type SourceColumn struct {
	Name    string
	NotNull bool
}

func (t SourceTable) column(name string) (SourceColumn, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return SourceColumn{}, false
}

// FunctionInfo is what the catalog says about a function name (all its overloads together).
type FunctionInfo struct {
	Schema string
	Name   string
	// Aggregate: some overload is an aggregate.
	Aggregate bool
	// Volatility is the least stable overload's provolatile: "i", "s" or "v".
	Volatility string
}

// IncrementalCatalog answers the catalog questions of the qualification. PgxIncrementalCatalog
// asks Postgres; StaticIncrementalCatalog answers from fixed data (tests).
type IncrementalCatalog interface {
	SourceTables(ctx context.Context, tables []Table) ([]SourceTable, error)
	Functions(ctx context.Context, fns []FuncRef) ([]FunctionInfo, error)
}

// IncrementalOptions configure Analysis.Incremental.
type IncrementalOptions struct {
	// IsIncremental reports whether a managed view is itself incremental: only those may be
	// read by an incremental view (their storage is a captured table).
	IsIncremental func(view string) bool
	Catalog       IncrementalCatalog
}

// The shapes of incremental views.
const (
	// ShapeGrouped: GROUP BY, aggregates or DISTINCT. A row is identified by its group key
	// (Key); a change recomputes the groups it touched, before and after.
	ShapeGrouped = "grouped"
	// ShapeRows: a plain projection of one table or a join. A row belongs to one row of the
	// first table in FROM (the root), whose primary key is selected (Key); a change recomputes
	// the rows of the root rows it reaches.
	ShapeRows = "rows"
)

// CaptureSource is one relation whose changes an incremental view needs captured.
type CaptureSource struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// View: a managed (incremental) view in the target schema.
	View bool `json:"view,omitempty"`
	// Columns are the columns the log records, in attnum order: every column the view reads,
	// plus the primary key where the maintenance needs it.
	Columns []string `json:"columns"`
	// Key is the primary key, when the maintenance uses it.
	Key []string `json:"key,omitempty"`
}

// Incremental is how an incremental view is maintained.
type Incremental struct {
	Shape string `json:"shape"`
	// Key are the view's columns that identify the rows to recompute (group key or root
	// primary key); empty for an aggregate without GROUP BY (one row).
	Key []string `json:"key"`
	// KeyNullable says, per Key column, whether it can be NULL.
	KeyNullable []bool `json:"-"`
	// Sources are the captured relations, sorted by schema and name.
	Sources []CaptureSource `json:"sources"`

	q            *Query
	occ          []*occurrence
	join         bool // more than one occurrence
	left         bool // some LEFT JOIN
	comma        bool // FROM a, b (joins in WHERE)
	hasAggregate bool
	keyExp       []*pg_query.Node
	rootPK       []string // root occurrence's key columns (ShapeRows and joins)
}

// occurrence is one relation in FROM.
type occurrence struct {
	alias    string
	table    SourceTable
	src      int  // index into Incremental.Sources
	nullable bool // on the nullable side of a LEFT JOIN
	left     bool // joined by LEFT JOIN
	on       *pg_query.Node
	using    []string
	location int
}

// notIncremental builds the error for a construct incremental refresh cannot maintain.
func (q *Query) notIncremental(loc int, format string, args ...any) error {
	msg := "refresh_strategy incremental: " + fmt.Sprintf(format, args...) +
		" (or use refresh_strategy: full)"
	return newError(ErrNotIncremental, q.sql, loc, "%s", msg)
}

// Incremental decides whether the analysed view can be refreshed incrementally and returns
// how. The errors wrap ErrNotIncremental, name the construct and its position, and say what to
// do instead.
func (a *Analysis) Incremental(ctx context.Context, opts IncrementalOptions) (*Incremental, error) {
	if a.query == nil {
		return nil, errors.New("incremental: the analysis has no parse tree")
	}
	q := a.query
	sel := q.stmt
	inc := &Incremental{q: q}
	if err := q.rejectConstructs(sel); err != nil {
		return nil, err
	}
	if err := inc.fromClause(ctx, a, opts); err != nil {
		return nil, err
	}
	if err := inc.functions(ctx, opts); err != nil {
		return nil, err
	}
	targets, err := inc.expandTargets(a)
	if err != nil {
		return nil, err
	}
	grouped := len(sel.GroupClause) > 0 || sel.HavingClause != nil || inc.hasAggregate
	switch {
	case grouped:
		err = inc.groupKey(targets)
	case len(sel.DistinctClause) > 0:
		inc.Shape = ShapeGrouped
		for _, t := range targets {
			inc.Key = append(inc.Key, t.name)
			inc.KeyNullable = append(inc.KeyNullable, inc.nullable(t.expr))
			inc.keyExp = append(inc.keyExp, t.expr)
		}
	default:
		err = inc.rootKey(targets)
	}
	if err != nil {
		return nil, err
	}
	if inc.join {
		inc.rootPK = inc.occ[0].table.PrimaryKey
	}
	needKeys := inc.join && inc.Shape == ShapeGrouped
	for _, o := range inc.occ {
		src := &inc.Sources[o.src]
		switch {
		case needKeys || (o == inc.occ[0] && inc.Shape == ShapeRows):
			if len(o.table.PrimaryKey) == 0 {
				what := "table"
				if src.View {
					what = "managed view"
				}
				return nil, q.notIncremental(o.location, "%s %s.%s has no primary key; %s", what, o.table.Schema, o.table.Name,
					map[bool]string{true: "a grouped view over a join needs one on every table it reads to rebuild the previous state of changed rows: add a primary key",
						false: "a view without GROUP BY or DISTINCT identifies its rows by the first table's primary key: add one"}[needKeys])
			}
			src.Key = o.table.PrimaryKey
			src.Columns = addColumns(o.table, src.Columns, o.table.PrimaryKey...)
		}
	}
	return inc, nil
}

// rejectConstructs refuses what recomputing by key cannot keep exact.
func (q *Query) rejectConstructs(sel *pg_query.SelectStmt) error {
	switch {
	case isSetOp(sel):
		return q.notIncremental(-1, "UNION, INTERSECT and EXCEPT are not supported: make one incremental view per branch")
	case sel.WithClause != nil:
		return q.notIncremental(int(sel.WithClause.Location), "WITH (common table expressions) is not supported: write the query without WITH")
	case sel.LimitCount != nil || sel.LimitOffset != nil:
		return q.notIncremental(-1, "LIMIT/OFFSET is not supported: a change can move any row into or out of the first N")
	case len(sel.FromClause) == 0:
		return q.notIncremental(-1, "a SELECT without FROM has no table whose changes could be captured")
	case len(sel.DistinctClause) > 0 && sel.DistinctClause[0] != nil && sel.DistinctClause[0].Node != nil:
		return q.notIncremental(locationOf(sel.DistinctClause[0]), "DISTINCT ON is not supported (which row it keeps depends on the order of the others): use GROUP BY")
	}
	var err error
	walkTree(sel, func(m proto.Message) bool {
		if err != nil {
			return false
		}
		switch n := m.(type) {
		case *pg_query.SubLink:
			err = q.notIncremental(int(n.Location), "subqueries (IN/EXISTS/scalar SELECT) are not supported: they read rows a change to one table cannot locate; use a JOIN")
		case *pg_query.SQLValueFunction:
			err = q.notIncremental(int(n.Location), "%s is not supported: its value changes without any table changing, so captured changes cannot keep the view current", strings.ToUpper(sqlValueNames[n.Op]))
		case *pg_query.GroupingSet:
			err = q.notIncremental(int(n.Location), "GROUPING SETS, ROLLUP and CUBE are not supported: use one GROUP BY per view")
		case *pg_query.FuncCall:
			if n.Over != nil {
				err = q.notIncremental(int(n.Location), "window functions (%s OVER ...) are not supported: a change can alter every row of a window", funcName(n.Funcname))
			}
		case *pg_query.RangeSubselect:
			err = q.notIncremental(-1, "subqueries in FROM are not supported: join the tables directly, or make the subquery its own incremental view")
		case *pg_query.RangeFunction, *pg_query.RangeTableFunc, *pg_query.JsonTable:
			err = q.notIncremental(-1, "functions in FROM are not supported: only tables (and incremental views) can be captured")
		case *pg_query.RangeTableSample:
			err = q.notIncremental(-1, "TABLESAMPLE is not supported: its rows are random")
		case *pg_query.ColumnRef:
			if len(n.Fields) > 2 {
				err = q.notIncremental(int(n.Location), "column reference %s names a schema: qualify columns with the table name or alias only", fieldText(n))
			}
		}
		return err == nil
	})
	return err
}

func fieldText(cr *pg_query.ColumnRef) string {
	var parts []string
	for _, f := range cr.Fields {
		if f.GetAStar() != nil {
			parts = append(parts, "*")
		} else {
			parts = append(parts, f.GetString_().GetSval())
		}
	}
	return strings.Join(parts, ".")
}

func locationOf(n *pg_query.Node) int {
	loc := -1
	walkTree(n, func(m proto.Message) bool {
		if loc >= 0 {
			return false
		}
		if l, ok := m.(interface{ GetLocation() int32 }); ok && l.GetLocation() >= 0 {
			loc = int(l.GetLocation())
		}
		return loc < 0
	})
	return loc
}

// fromClause checks FROM: one table, a chain of INNER/LEFT joins with ON or USING (written
// left to right), or a comma list of tables; every relation a capturable table or an
// incremental managed view.
func (inc *Incremental) fromClause(ctx context.Context, a *Analysis, opts IncrementalOptions) error {
	q := inc.q
	from := q.stmt.FromClause
	var rvs []*pg_query.RangeVar
	var joins []*pg_query.JoinExpr // joins[i] joins rvs[i+1]
	if len(from) > 1 {
		inc.comma = true
		for _, f := range from {
			rv := f.GetRangeVar()
			if rv == nil {
				return q.notIncremental(locationOf(f), "mixing JOIN with a comma-separated FROM list is not supported: write every join as JOIN ... ON")
			}
			rvs = append(rvs, rv)
		}
	} else {
		var walk func(n *pg_query.Node) error
		walk = func(n *pg_query.Node) error {
			if rv := n.GetRangeVar(); rv != nil {
				rvs = append(rvs, rv)
				return nil
			}
			j := n.GetJoinExpr()
			if j == nil {
				return q.notIncremental(locationOf(n), "this FROM item is not supported: use tables and JOIN ... ON")
			}
			if err := walk(j.Larg); err != nil {
				return err
			}
			rv := j.Rarg.GetRangeVar()
			switch {
			case rv == nil:
				return q.notIncremental(locationOf(j.Rarg), "a parenthesised join on the right of JOIN is not supported: write the joins left to right")
			case j.IsNatural:
				return q.notIncremental(int(rv.Location), "NATURAL JOIN is not supported: write JOIN ... ON with the columns")
			case j.Jointype != pg_query.JoinType_JOIN_INNER && j.Jointype != pg_query.JoinType_JOIN_LEFT:
				return q.notIncremental(int(rv.Location), "%s is not supported: only INNER and LEFT joins are (put the preserved table first)",
					map[pg_query.JoinType]string{pg_query.JoinType_JOIN_RIGHT: "RIGHT JOIN", pg_query.JoinType_JOIN_FULL: "FULL JOIN"}[j.Jointype])
			case len(j.UsingClause) > 0:
				return q.notIncremental(int(rv.Location), "JOIN ... USING is not supported: write JOIN ... ON a.col = b.col")
			case j.Quals == nil:
				return q.notIncremental(int(rv.Location), "a join without ON is not supported: add the join condition")
			case j.JoinUsingAlias != nil || j.Alias != nil:
				return q.notIncremental(int(rv.Location), "an alias on a join is not supported: alias the tables instead")
			}
			rvs = append(rvs, rv)
			joins = append(joins, j)
			return nil
		}
		if err := walk(from[0]); err != nil {
			return err
		}
	}
	inc.join = len(rvs) > 1
	// Resolve every relation as Analyze did.
	var want []Table
	for _, rv := range rvs {
		if strings.HasPrefix(rv.Relname, "$") || (rv.Alias != nil && strings.HasPrefix(rv.Alias.Aliasname, "$")) {
			return q.notIncremental(int(rv.Location), "names starting with $ are reserved for agentmv's maintenance queries: rename or alias %s", rv.Relname)
		}
		if rv.Alias != nil && len(rv.Alias.Colnames) > 0 {
			return q.notIncremental(int(rv.Location), "column aliases on %s are not supported: alias the columns in the SELECT list", rv.Relname)
		}
		if !rv.Inh {
			return q.notIncremental(int(rv.Location), "ONLY %s is not supported", rv.Relname)
		}
		res, ok := a.written[Relation{Schema: rv.Schemaname, Name: rv.Relname}.String()]
		if !ok {
			return fmt.Errorf("incremental: relation %s was not resolved", rv.Relname)
		}
		t := Table{Schema: res.Schema, Name: res.Name, Kind: res.Kind}
		if !slices.ContainsFunc(want, func(x Table) bool { return x.Schema == t.Schema && x.Name == t.Name }) {
			want = append(want, t)
		}
	}
	slices.SortFunc(want, func(x, y Table) int { return strings.Compare(x.String(), y.String()) })
	infos, err := opts.Catalog.SourceTables(ctx, want)
	if err != nil {
		return err
	}
	for i, t := range want {
		view := slices.Contains(a.Views, t.Name) && t.Schema == a.targetSchema
		inc.Sources = append(inc.Sources, CaptureSource{Schema: t.Schema, Name: t.Name, View: view})
		info := infos[i]
		loc := -1
		for _, rv := range rvs {
			if r := a.written[Relation{Schema: rv.Schemaname, Name: rv.Relname}.String()]; r.Schema == t.Schema && r.Name == t.Name {
				loc = int(rv.Location)
				break
			}
		}
		switch {
		case view && (opts.IsIncremental == nil || !opts.IsIncremental(t.Name)):
			return q.notIncremental(loc, "it reads managed view %s, which is refreshed in full: make %s incremental too, or read its tables", t.Name, t.Name)
		case view:
		case info.Kind == "p":
			return q.notIncremental(loc, "%s is a partitioned table: attaching or detaching a partition changes its rows without firing triggers, so they cannot be captured", t)
		case info.Kind == "v" || info.Kind == "m":
			return q.notIncremental(loc, "%s is a view: changes can only be captured on tables; read its tables instead", t)
		case info.Kind == "f":
			return q.notIncremental(loc, "%s is a foreign table: its changes cannot be captured", t)
		case info.Kind != "r":
			return q.notIncremental(loc, "%s is not a table (relkind %q)", t, info.Kind)
		case info.HasChildren:
			return q.notIncremental(loc, "%s has inheritance children: writes to them do not fire its triggers, so they cannot be captured", t)
		}
		for _, c := range info.Columns {
			if strings.HasPrefix(c.Name, "$") {
				return q.notIncremental(loc, "column %q of %s starts with $, which agentmv reserves for its change logs", c.Name, t)
			}
		}
	}
	for i, rv := range rvs {
		res := a.written[Relation{Schema: rv.Schemaname, Name: rv.Relname}.String()]
		o := &occurrence{alias: aliasOf(rv.Alias, rv.Relname), location: int(rv.Location)}
		o.src = slices.IndexFunc(want, func(x Table) bool { return x.Schema == res.Schema && x.Name == res.Name })
		o.table = infos[o.src]
		if i > 0 && !inc.comma {
			j := joins[i-1]
			o.left = j.Jointype == pg_query.JoinType_JOIN_LEFT
			o.on = j.Quals
			for _, u := range j.UsingClause {
				o.using = append(o.using, u.GetString_().GetSval())
			}
			inc.left = inc.left || o.left
		}
		for _, p := range inc.occ {
			if p.alias == o.alias {
				return q.notIncremental(o.location, "table name %s is used twice in FROM: give each an alias", o.alias)
			}
		}
		inc.occ = append(inc.occ, o)
	}
	// Nullable sides: a LEFT JOIN's right table, and everything joined on it... every later
	// occurrence whose join condition reads a nullable one is nullable too only through that
	// condition; Postgres' null-extension is per join, so mark just the LEFT-joined tables.
	for _, o := range inc.occ {
		o.nullable = o.left
	}
	return inc.columns()
}

// columns records, per source, every column the view reads, and checks the join conditions.
func (inc *Incremental) columns() error {
	q := inc.q
	var err error
	record := func(o *occurrence, col string, loc int) {
		if _, ok := o.table.column(col); !ok {
			err = q.notIncremental(loc, "column %s.%s does not exist", o.alias, col)
			return
		}
		src := &inc.Sources[o.src]
		src.Columns = addColumns(o.table, src.Columns, col)
	}
	walkTree(q.stmt, func(m proto.Message) bool {
		cr, ok := m.(*pg_query.ColumnRef)
		if !ok || err != nil {
			return err == nil
		}
		occ, col, e := inc.resolve(cr)
		switch {
		case e != nil:
			err = e
		case col == "*":
			for _, o := range occ {
				for _, c := range o.table.Columns {
					record(o, c.Name, int(cr.Location))
				}
			}
		case len(occ) == 0:
			// An output column alias (GROUP BY/ORDER BY name): checked by groupKey.
		default:
			for _, o := range occ {
				record(o, col, int(cr.Location))
			}
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	for i, o := range inc.occ {
		for _, u := range o.using {
			for _, p := range inc.occ[:i+1] {
				if _, ok := p.table.column(u); ok {
					record(p, u, o.location)
				}
			}
		}
		if err != nil {
			return err
		}
		if o.on == nil {
			continue
		}
		for _, conj := range conjuncts(o.on) {
			refs, rerr := inc.refs(conj)
			if rerr != nil {
				return rerr
			}
			earlier := false
			for _, r := range refs {
				earlier = earlier || r != i
			}
			if earlier && !strictComparison(conj) {
				return q.notIncremental(locationOf(conj), "the JOIN ... ON condition of %s must be comparisons joined by AND (e.g. a.x = b.y): other conditions can hold for a missing row", o.alias)
			}
		}
	}
	return nil
}

// addColumns adds names to cols keeping the table's attnum order.
func addColumns(t SourceTable, cols []string, names ...string) []string {
	for _, n := range names {
		if !slices.Contains(cols, n) {
			cols = append(cols, n)
		}
	}
	pos := func(n string) int {
		return slices.IndexFunc(t.Columns, func(c SourceColumn) bool { return c.Name == n })
	}
	slices.SortFunc(cols, func(x, y string) int { return pos(x) - pos(y) })
	return cols
}

// resolve finds the occurrences a column reference reads: one for a.col and col, all (or one)
// for * and a.*. An unqualified name found in no table returns no occurrence (an output alias).
func (inc *Incremental) resolve(cr *pg_query.ColumnRef) ([]*occurrence, string, error) {
	q := inc.q
	f := cr.Fields
	last := "*"
	if s := f[len(f)-1].GetString_(); s != nil {
		last = s.Sval
	}
	if len(f) == 2 {
		qual := f[0].GetString_().GetSval()
		for _, o := range inc.occ {
			if o.alias == qual {
				return []*occurrence{o}, last, nil
			}
		}
		return nil, "", q.notIncremental(int(cr.Location), "%s is not a table in FROM", qual)
	}
	if last == "*" {
		return inc.occ, "*", nil
	}
	var found []*occurrence
	for _, o := range inc.occ {
		if _, ok := o.table.column(last); ok {
			found = append(found, o)
		}
	}
	if len(found) > 1 {
		// A USING column is the left side's (inner and left joins).
		for _, o := range inc.occ {
			if slices.Contains(o.using, last) {
				return found[:1], last, nil
			}
		}
		return nil, "", q.notIncremental(int(cr.Location), "column reference %q is ambiguous: qualify it with its table", last)
	}
	return found, last, nil
}

// refs lists the occurrences (by index) an expression reads.
func (inc *Incremental) refs(n proto.Message) ([]int, error) {
	var out []int
	var err error
	walkTree(n, func(m proto.Message) bool {
		cr, ok := m.(*pg_query.ColumnRef)
		if !ok || err != nil {
			return err == nil
		}
		occ, _, e := inc.resolve(cr)
		if e != nil {
			err = e
			return false
		}
		for _, o := range occ {
			i := slices.Index(inc.occ, o)
			if !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
		return true
	})
	return out, err
}

// conjuncts splits an AND tree.
func conjuncts(n *pg_query.Node) []*pg_query.Node {
	if n == nil {
		return nil
	}
	if b := n.GetBoolExpr(); b != nil && b.Boolop == pg_query.BoolExprType_AND_EXPR {
		var out []*pg_query.Node
		for _, a := range b.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg_query.Node{n}
}

// strictComparison: a binary operator on columns and constants, which is false or NULL when a
// column is NULL.
func strictComparison(n *pg_query.Node) bool {
	e := n.GetAExpr()
	if e == nil || e.Kind != pg_query.A_Expr_Kind_AEXPR_OP || e.Lexpr == nil || e.Rexpr == nil {
		return false
	}
	simple := func(x *pg_query.Node) bool {
		for x.GetTypeCast() != nil {
			x = x.GetTypeCast().Arg
		}
		return x.GetColumnRef() != nil || x.GetAConst() != nil
	}
	return simple(e.Lexpr) && simple(e.Rexpr)
}
