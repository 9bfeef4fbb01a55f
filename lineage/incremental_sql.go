package lineage

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// IncrementalNames are what the maintenance SQL refers to besides the view's own query.
type IncrementalNames struct {
	Storage string   // the view's table, quoted: "<S>"."<view>"
	Def     string   // the plain view holding the defining query, quoted
	Logs    []string // the change log of each Sources entry, quoted, same order
	// Stmt and Image name the log's statement-sequence and image columns; the image is
	// 'o' (a row before the statement), 'n' (after) or 't' (a marker that forces a full
	// refresh: TRUNCATE, or capture that could not read its columns).
	Stmt, Image string
	// Token, when set, is an SQL expression the maintenance statement returns as its last
	// column (ResultToken), evaluated at the statement's snapshot: the capture fingerprint.
	Token string
}

// Column names of the maintenance statement's result.
const (
	ResultChanges  = "changes"  // captured changes consumed (log rows)
	ResultMarkers  = "markers"  // consumed 't' markers: the caller must roll back and refresh in full
	ResultDeleted  = "deleted"  // view rows deleted
	ResultInserted = "inserted" // view rows inserted
	ResultToken    = "token"    // IncrementalNames.Token's value
)

// FullSQL is one statement that consumes every change in the logs and inserts the whole
// defining query into the (emptied) view, at one snapshot: result columns changes, inserted.
func (inc *Incremental) FullSQL(n IncrementalNames) string {
	var b strings.Builder
	b.WriteString("WITH ")
	for k := range inc.Sources {
		fmt.Fprintf(&b, "%s AS (DELETE FROM %s RETURNING %s, %s), ", cte("c", k), n.Logs[k], ident(n.Stmt), ident(n.Image))
	}
	fmt.Fprintf(&b, `"$ins" AS (INSERT INTO %s SELECT * FROM %s RETURNING 1) SELECT %s AS %s, (SELECT count(*) FROM "$ins") AS %s`,
		n.Storage, n.Def, inc.changes(n), ResultChanges, ResultInserted)
	return b.String()
}

// MaintainSQL is one statement that consumes the changes in the logs and recomputes exactly
// the view rows they can affect, at one snapshot (so the changes it applies are exactly those
// committed before it started): result columns changes, markers, deleted, inserted. See
// CONTRACTS.md for why each part is exact.
func (inc *Incremental) MaintainSQL(n IncrementalNames) (string, error) {
	g := gen{inc: inc, n: n}
	var b strings.Builder
	b.WriteString("WITH ")
	for k := range inc.Sources {
		fmt.Fprintf(&b, "%s AS (DELETE FROM %s RETURNING *),\n", cte("c", k), n.Logs[k])
	}
	var err error
	if inc.Shape == ShapeRows || inc.join {
		roots, err := g.roots()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\"$r\" AS (%s),\n", roots)
	}
	var del, ins string
	if inc.Shape == ShapeRows {
		del, ins, err = g.rowsDML()
	} else {
		var groups string
		if groups, err = g.groups(); err == nil {
			fmt.Fprintf(&b, "\"$g\" AS (%s),\n", groups)
			del, ins, err = g.groupDML()
		}
	}
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "\"$del\" AS (%s RETURNING 1),\n\"$ins\" AS (%s RETURNING 1)\n", del, ins)
	fmt.Fprintf(&b, `SELECT %s AS %s, %s AS %s, (SELECT count(*) FROM "$del") AS %s, (SELECT count(*) FROM "$ins") AS %s`,
		inc.changes(n), ResultChanges, inc.sumCounts(fmt.Sprintf(" WHERE %s = 't'", ident(n.Image))), ResultMarkers,
		ResultDeleted, ResultInserted)
	if n.Token != "" {
		fmt.Fprintf(&b, ", %s AS %s", n.Token, ResultToken)
	}
	return b.String(), nil
}

func (inc *Incremental) sumCounts(where string) string {
	var parts []string
	for k := range inc.Sources {
		parts = append(parts, fmt.Sprintf("(SELECT count(*) FROM %s%s)", cte("c", k), where))
	}
	return strings.Join(parts, " + ")
}

// changes counts the captured row changes consumed: per captured statement, the larger of its
// before- and after-images (an UPDATE of n rows has n of each, an INSERT n after-images, a
// DELETE n before-images).
func (inc *Incremental) changes(n IncrementalNames) string {
	var parts []string
	for k := range inc.Sources {
		parts = append(parts, fmt.Sprintf("SELECT %s, %s FROM %s", ident(n.Stmt), ident(n.Image), cte("c", k)))
	}
	return fmt.Sprintf("(SELECT coalesce(sum(greatest(\"$o\", \"$n\")), 0)::bigint FROM (SELECT count(*) FILTER (WHERE %[1]s = 'o') AS \"$o\", count(*) FILTER (WHERE %[1]s = 'n') AS \"$n\" FROM (%[2]s) \"$x\" GROUP BY %[3]s) \"$y\")",
		ident(n.Image), strings.Join(parts, " UNION ALL "), ident(n.Stmt))
}

func cte(prefix string, k int) string { return ident(fmt.Sprintf("$%s%d", prefix, k+1)) }

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func idents(cols []string, qual string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = ident(c)
		if qual != "" {
			out[i] = qual + "." + out[i]
		}
	}
	return strings.Join(out, ", ")
}

// gen writes the parts of the maintenance statement.
type gen struct {
	inc *Incremental
	n   IncrementalNames
}

func (g gen) table(k int) string {
	s := g.inc.Sources[k]
	return pgx.Identifier{s.Schema, s.Name}.Sanitize()
}

// images: every row image the consumed changes carry (before and after).
func (g gen) images(k int) string {
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s <> 't'", idents(g.inc.Sources[k].Columns, ""), cte("c", k), ident(g.n.Image))
}

// previous: the table as it was when the changes started: unchanged rows from the table, and
// for each changed key its earliest image if that is a before-image (a key first inserted
// did not exist). restrict, when set, filters both parts (a condition on the key columns).
func (g gen) previous(k int, restrict string) string {
	s := g.inc.Sources[k]
	cols, pk := idents(s.Columns, ""), idents(s.Key, "")
	img, stmt := ident(g.n.Image), ident(g.n.Stmt)
	and := ""
	if restrict != "" {
		and = " AND " + restrict
	}
	return fmt.Sprintf("SELECT %[1]s FROM %[3]s WHERE (%[2]s) NOT IN (SELECT %[2]s FROM %[4]s WHERE %[5]s <> 't')%[7]s"+
		" UNION ALL SELECT %[1]s FROM (SELECT DISTINCT ON (%[2]s) %[1]s, %[5]s FROM %[4]s WHERE %[5]s <> 't'%[7]s ORDER BY %[2]s, %[6]s, %[5]s = 'n') \"$f\" WHERE %[5]s = 'o'",
		cols, pk, g.table(k), cte("c", k), img, stmt, and)
}

// roots: the primary keys of the first table's rows whose view rows the changes can affect.
// For each later table, the tables up to it joined as in the view, that table replaced by the
// changed rows' images and joined INNER, the others as they are now: for any row of the view
// (before or after) that contains a changed row, the first changed row in it is reached from
// its root row this way, since every row before it in the join is unchanged (see
// CONTRACTS.md). WHERE conditions on those tables are kept only when all their joins are
// inner (a condition can hold for a null-extended row and not for the matched one).
func (g gen) roots() (string, error) {
	inc := g.inc
	root := inc.occ[0]
	pk := inc.rootPK
	parts := []string{fmt.Sprintf("SELECT %s FROM %s WHERE %s <> 't'", idents(pk, ""), cte("c", root.src), ident(g.n.Image))}
	targets := make([]string, len(pk))
	for i, c := range pk {
		targets[i] = ident(root.alias) + "." + ident(c) + " AS " + ident(c)
	}
	for i := 1; i < len(inc.occ); i++ {
		v := variant{subst: map[int]string{i: g.images(inc.occ[i].src)}, upTo: i, innerAt: i, targets: targets}
		inner := true
		for _, o := range inc.occ[:i+1] {
			inner = inner && !o.left
		}
		if inner {
			conj, err := inc.conjunctsWithin(i)
			if err != nil {
				return "", err
			}
			v.extra = conj
		}
		s, err := inc.render(v)
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "\nUNION\n"), nil
}

// conjunctsWithin returns the WHERE conjuncts that read only occurrences 0..i.
func (inc *Incremental) conjunctsWithin(i int) ([]string, error) {
	var out []string
	for _, c := range conjuncts(inc.q.stmt.WhereClause) {
		refs, err := inc.refs(c)
		if err != nil {
			return nil, err
		}
		ok := true
		for _, r := range refs {
			ok = ok && r <= i
		}
		if ok {
			s, err := inc.deparseExpr(c)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// rootsIn is the condition "the root row is affected", on the root's alias (or unqualified).
func (g gen) rootsIn(qualified bool) string {
	qual := ""
	if qualified {
		qual = ident(g.inc.occ[0].alias)
	}
	return fmt.Sprintf("(%s) IN (SELECT %s FROM \"$r\")", idents(g.inc.rootPK, qual), idents(g.inc.rootPK, ""))
}

// keyOnRoot: every group key expression reads only the root table.
func (inc *Incremental) keyOnRoot() bool {
	for _, e := range inc.keyExp {
		refs, err := inc.refs(e)
		if err != nil || len(refs) == 0 {
			return false
		}
		for _, r := range refs {
			if r != 0 {
				return false
			}
		}
	}
	return true
}

func keyCol(j int) string { return ident(fmt.Sprintf("$k%d", j+1)) }

// groups: the group keys the changes touched, before and after.
func (g gen) groups() (string, error) {
	inc := g.inc
	var targets []string
	for j, e := range inc.keyExp {
		s, err := inc.deparseExpr(e)
		if err != nil {
			return "", err
		}
		targets = append(targets, s+" AS "+keyCol(j))
	}
	if !inc.join {
		if len(targets) == 0 {
			targets = []string{"1 AS \"$one\""}
		}
		// One table: the keys of the images that pass WHERE (a row that fails it in both
		// versions is in no group).
		return inc.render(variant{subst: map[int]string{0: g.images(inc.occ[0].src)}, upTo: -1, innerAt: -1,
			targets: targets, keepWhere: true, distinct: true})
	}
	if len(targets) == 0 {
		return `SELECT DISTINCT 1 AS "$one" FROM "$r"`, nil
	}
	root := inc.occ[0]
	if inc.keyOnRoot() {
		// The key reads only the root: the affected roots' keys before (their images) and
		// now (their rows) are all the groups that can change.
		cols := idents(inc.Sources[root.src].Columns, "")
		sub := g.images(root.src) + fmt.Sprintf(" UNION ALL SELECT %s FROM %s WHERE %s", cols, g.table(root.src), g.rootsIn(false))
		return inc.render(variant{subst: map[int]string{0: sub}, upTo: 0, innerAt: -1, targets: targets, distinct: true})
	}
	// The affected roots' rows of the view as it was (every table as it was: see previous)
	// and as it is now.
	before := variant{subst: map[int]string{}, lateral: true, upTo: -1, innerAt: -1, targets: targets, keepWhere: true}
	before.subst[0] = g.previous(root.src, g.rootsIn(false))
	for j := 1; j < len(inc.occ); j++ {
		before.subst[j] = g.previous(inc.occ[j].src, "")
	}
	after := variant{upTo: -1, innerAt: -1, targets: targets, keepWhere: true, extra: []string{g.rootsIn(true)}}
	b, err := inc.render(before)
	if err != nil {
		return "", err
	}
	a, err := inc.render(after)
	if err != nil {
		return "", err
	}
	return b + "\nUNION\n" + a, nil
}

// groupDML deletes the view rows of the touched groups and inserts them recomputed. Keys
// are matched with = (so indexes and hashing work), one arm per pattern of NULL key columns.
func (g gen) groupDML() (del, ins string, err error) {
	inc := g.inc
	gate := `(SELECT count(*) FROM "$del") >= 0`
	if len(inc.Key) == 0 {
		q, err := inc.render(variant{upTo: -1, innerAt: -1, keepWhere: true, keepGroup: true})
		if err != nil {
			return "", "", err
		}
		return fmt.Sprintf(`DELETE FROM %s WHERE EXISTS (SELECT 1 FROM "$g")`, g.n.Storage),
			fmt.Sprintf(`INSERT INTO %s SELECT * FROM (%s) "$q" WHERE EXISTS (SELECT 1 FROM "$g") AND %s`, g.n.Storage, q, gate), nil
	}
	var nullable []int
	for j, nb := range inc.KeyNullable {
		if nb {
			nullable = append(nullable, j)
		}
	}
	var delArms, insArms []string
	keyText := make([]string, len(inc.keyExp))
	for j, e := range inc.keyExp {
		if keyText[j], err = inc.deparseExpr(e); err != nil {
			return "", "", err
		}
	}
	if len(nullable) > 3 {
		// Too many NULL patterns: one arm comparing with IS NOT DISTINCT FROM.
		var sc, qc []string
		for j, k := range inc.Key {
			sc = append(sc, fmt.Sprintf("\"$s\".%s IS NOT DISTINCT FROM \"$g\".%s", ident(k), keyCol(j)))
			qc = append(qc, fmt.Sprintf("\"$g\".%s IS NOT DISTINCT FROM (%s)", keyCol(j), keyText[j]))
		}
		delArms = append(delArms, fmt.Sprintf(`SELECT "$s".ctid FROM %s "$s", "$g" WHERE %s`, g.n.Storage, strings.Join(sc, " AND ")))
		arm, err := inc.render(variant{upTo: -1, innerAt: -1, keepWhere: true, keepGroup: true,
			extra: []string{fmt.Sprintf(`EXISTS (SELECT 1 FROM "$g" WHERE %s)`, strings.Join(qc, " AND "))}})
		if err != nil {
			return "", "", err
		}
		insArms = append(insArms, arm)
	} else {
		for mask := 0; mask < 1<<len(nullable); mask++ {
			isNull := map[int]bool{}
			for b, j := range nullable {
				isNull[j] = mask&(1<<b) != 0
			}
			var gc, sc, eqS, eqG, eqQ, nullQ []string
			for j, k := range inc.Key {
				switch {
				case isNull[j]:
					gc = append(gc, "\"$g\"."+keyCol(j)+" IS NULL")
					sc = append(sc, ident(k)+" IS NULL")
					nullQ = append(nullQ, "("+keyText[j]+") IS NULL")
				default:
					if inc.KeyNullable[j] {
						gc = append(gc, "\"$g\"."+keyCol(j)+" IS NOT NULL")
					}
					sc = append(sc, fmt.Sprintf("%s = \"$g\".%s", ident(k), keyCol(j)))
					eqG = append(eqG, "\"$g\"."+keyCol(j))
					eqQ = append(eqQ, "("+keyText[j]+")")
					eqS = append(eqS, k)
				}
			}
			gWhere := ""
			if len(gc) > 0 {
				gWhere = " WHERE " + strings.Join(gc, " AND ")
			}
			gw := ""
			if len(gc) > 0 {
				gw = " WHERE " + strings.Join(gc, " AND ")
			}
			delArms = append(delArms, fmt.Sprintf(`SELECT "$s".ctid FROM "$g", LATERAL (SELECT ctid FROM %s WHERE %s OFFSET 0) "$s"%s`,
				g.n.Storage, strings.Join(sc, " AND "), gw))
			var extra []string
			if len(eqQ) > 0 {
				extra = append(extra, fmt.Sprintf(`(%s) IN (SELECT %s FROM "$g"%s)`, strings.Join(eqQ, ", "), strings.Join(eqG, ", "), gWhere))
			} else {
				extra = append(extra, fmt.Sprintf(`EXISTS (SELECT 1 FROM "$g"%s)`, gWhere))
			}
			extra = append(extra, nullQ...)
			arm, err := inc.render(variant{upTo: -1, innerAt: -1, keepWhere: true, keepGroup: true, extra: extra})
			if err != nil {
				return "", "", err
			}
			insArms = append(insArms, arm)
		}
	}
	del = fmt.Sprintf("DELETE FROM %s WHERE ctid = ANY (ARRAY(%s))", g.n.Storage, strings.Join(delArms, "\nUNION ALL\n"))
	for i, a := range insArms {
		insArms[i] = "(" + a + ")"
	}
	ins = fmt.Sprintf(`INSERT INTO %s SELECT * FROM (%s) "$q" WHERE %s`, g.n.Storage, strings.Join(insArms, "\nUNION ALL\n"), gate)
	return del, ins, nil
}

// rowsDML deletes the view rows of the affected root rows and inserts them recomputed.
func (g gen) rowsDML() (del, ins string, err error) {
	inc := g.inc
	var on []string
	for j, k := range inc.Key {
		on = append(on, fmt.Sprintf("%s = \"$r\".%s", ident(k), ident(inc.rootPK[j])))
	}
	del = fmt.Sprintf(`DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT "$s".ctid FROM "$r", LATERAL (SELECT ctid FROM %s WHERE %s OFFSET 0) "$s"))`,
		g.n.Storage, g.n.Storage, strings.Join(on, " AND "))
	q, err := inc.render(variant{upTo: -1, innerAt: -1, keepWhere: true, keepGroup: true, extra: []string{g.rootsIn(true)}})
	if err != nil {
		return "", "", err
	}
	ins = fmt.Sprintf(`INSERT INTO %s SELECT * FROM (%s) "$q" WHERE (SELECT count(*) FROM "$del") >= 0`, g.n.Storage, q)
	return del, ins, nil
}

// variant is the view's query changed for one part of the maintenance.
type variant struct {
	subst     map[int]string // occurrence -> subquery replacing its table (same alias)
	lateral   bool           // joined substitutes become LATERAL subqueries carrying the join condition
	upTo      int            // keep FROM up to this occurrence (joins only); -1 all
	innerAt   int            // this occurrence's join becomes INNER; -1 none
	targets   []string       // replacement SELECT list; nil keeps it
	keepWhere bool
	extra     []string // conjuncts added to WHERE
	keepGroup bool     // keep GROUP BY, HAVING and DISTINCT
	distinct  bool     // SELECT DISTINCT
}

// render applies a variant to a copy of the parse tree and prints it.
func (inc *Incremental) render(v variant) (string, error) {
	sel := proto.Clone(inc.q.stmt).(*pg_query.SelectStmt)
	slots, joinNodes := fromSlots(sel)
	// The maintenance runs with a search_path that may not reach the tables: qualify them.
	for i, o := range inc.occ {
		if rv := slots[i].GetRangeVar(); rv != nil {
			rv.Schemaname = o.table.Schema
		}
	}
	for i, sub := range v.subst {
		if v.lateral && i > 0 {
			// Postgres does not push a join condition into a UNION ALL subquery; as a
			// LATERAL subquery (kept apart by OFFSET 0) the condition reaches each arm and
			// its indexes, once per row of the tables before it.
			cond, err := inc.joinCondition(i)
			if err != nil {
				return "", err
			}
			sub = fmt.Sprintf("SELECT * FROM (%s) %s%s OFFSET 0", sub, ident(inc.occ[i].alias), cond)
			if !inc.comma {
				t, err := parseExpr("true")
				if err != nil {
					return "", err
				}
				joinNodes[i-1].GetJoinExpr().Quals = t
			}
		}
		node, err := parseSelectNode(sub)
		if err != nil {
			return "", err
		}
		slots[i].Node = &pg_query.Node_RangeSubselect{RangeSubselect: &pg_query.RangeSubselect{
			Lateral: v.lateral && i > 0, Subquery: node, Alias: &pg_query.Alias{Aliasname: inc.occ[i].alias}}}
	}
	if v.innerAt > 0 && !inc.comma {
		joinNodes[v.innerAt-1].GetJoinExpr().Jointype = pg_query.JoinType_JOIN_INNER
	}
	if v.upTo >= 0 && v.upTo < len(inc.occ)-1 {
		if inc.comma {
			sel.FromClause = sel.FromClause[:v.upTo+1]
		} else if v.upTo == 0 {
			sel.FromClause = []*pg_query.Node{slots[0]}
		} else {
			sel.FromClause = []*pg_query.Node{joinNodes[v.upTo-1]}
		}
	}
	if v.targets != nil {
		tl, err := parseTargets(strings.Join(v.targets, ", "))
		if err != nil {
			return "", err
		}
		sel.TargetList = tl
	}
	var where []*pg_query.Node
	if v.keepWhere && sel.WhereClause != nil {
		where = append(where, sel.WhereClause)
	}
	for _, e := range v.extra {
		n, err := parseExpr(e)
		if err != nil {
			return "", err
		}
		where = append(where, n)
	}
	switch len(where) {
	case 0:
		sel.WhereClause = nil
	case 1:
		sel.WhereClause = where[0]
	default:
		sel.WhereClause = pg_query.MakeBoolExprNode(pg_query.BoolExprType_AND_EXPR, where, -1)
	}
	if !v.keepGroup {
		sel.GroupClause, sel.HavingClause, sel.DistinctClause = nil, nil, nil
	}
	if v.distinct {
		sel.DistinctClause = []*pg_query.Node{{}}
	}
	sel.SortClause = nil
	return deparseSelect(inc.q.tree.Version, sel)
}

// joinCondition is " WHERE <condition>" joining occurrence i to the ones before it: its ON
// condition, or (FROM a, b) the WHERE conjuncts that read it and only earlier ones.
func (inc *Incremental) joinCondition(i int) (string, error) {
	var conds []*pg_query.Node
	if inc.comma {
		for _, c := range conjuncts(inc.q.stmt.WhereClause) {
			refs, err := inc.refs(c)
			if err != nil {
				return "", err
			}
			mine, later := false, false
			for _, r := range refs {
				mine = mine || r == i
				later = later || r > i
			}
			if mine && !later {
				conds = append(conds, c)
			}
		}
	} else {
		conds = conjuncts(inc.occ[i].on)
	}
	var parts []string
	for _, c := range conds {
		s, err := inc.deparseExpr(c)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+s+")")
	}
	if len(parts) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(parts, " AND "), nil
}

// fromSlots returns, in FROM order, the nodes holding each table, and the join nodes
// (joinNodes[i] joins occurrence i+1).
func fromSlots(sel *pg_query.SelectStmt) (slots, joinNodes []*pg_query.Node) {
	var walk func(n *pg_query.Node)
	walk = func(n *pg_query.Node) {
		if j := n.GetJoinExpr(); j != nil {
			walk(j.Larg)
			slots = append(slots, j.Rarg)
			joinNodes = append(joinNodes, n)
			return
		}
		slots = append(slots, n)
	}
	for _, f := range sel.FromClause {
		walk(f)
	}
	return slots, joinNodes
}

func deparseSelect(version int32, sel *pg_query.SelectStmt) (string, error) {
	tree := &pg_query.ParseResult{Version: version, Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}}}}
	s, err := pg_query.Deparse(tree)
	if err != nil {
		return "", fmt.Errorf("incremental: print maintenance query: %w", err)
	}
	return s, nil
}

// deparseExpr prints one expression.
func (inc *Incremental) deparseExpr(n *pg_query.Node) (string, error) {
	sel := &pg_query.SelectStmt{TargetList: []*pg_query.Node{pg_query.MakeResTargetNodeWithVal(n, -1)}}
	s, err := deparseSelect(inc.q.tree.Version, sel)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(s, "SELECT "), nil
}

func parseSelectNode(sql string) (*pg_query.Node, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil || len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return nil, fmt.Errorf("incremental: parse generated query %q: %v", sql, err)
	}
	return tree.Stmts[0].Stmt, nil
}

func parseTargets(list string) ([]*pg_query.Node, error) {
	n, err := parseSelectNode("SELECT " + list)
	if err != nil {
		return nil, err
	}
	return n.GetSelectStmt().TargetList, nil
}

func parseExpr(expr string) (*pg_query.Node, error) {
	n, err := parseSelectNode("SELECT 1 WHERE " + expr)
	if err != nil {
		return nil, err
	}
	return n.GetSelectStmt().WhereClause, nil
}
