package lineage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/proto"
)

// Kinds of parse errors, for errors.Is.
var (
	ErrSyntax             = errors.New("syntax error")
	ErrEmpty              = errors.New("no SQL statement")
	ErrMultipleStatements = errors.New("more than one statement")
	ErrNotSelect          = errors.New("not a plain SELECT")
	ErrCatalogName        = errors.New("three-part name")
	ErrDeparse            = errors.New("cannot deparse faithfully")
)

// Error is a parse or validation error with the position in the SQL text when known.
// errors.Is(err, ErrSyntax) (or another kind) classifies it; for syntax errors,
// errors.As(err, **parser.Error) also finds pg_query's own error.
type Error struct {
	Kind    error
	Message string
	Line    int   // 1-based; 0 when unknown
	Column  int   // 1-based, in characters
	Err     error // the underlying pg_query error, if any
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d, column %d)", e.Message, e.Line, e.Column)
	}
	return e.Message
}

// Unwrap returns the kind and the underlying error, so errors.Is(err, ErrSyntax) works.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func newError(kind error, sql string, offset int, format string, args ...any) *Error {
	e := &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
	if offset >= 0 && offset <= len(sql) {
		e.Line, e.Column = position(sql, offset)
	}
	return e
}

// position converts a 0-based byte offset into a 1-based line and column (in runes).
func position(sql string, offset int) (line, col int) {
	line, col = 1, 1
	for _, r := range sql[:offset] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// Relation is a relation named in FROM (a table, view, materialized view, …), as written:
// Schema is empty when the name is unqualified.
type Relation struct {
	Schema   string `json:"schema,omitempty"`
	Name     string `json:"name"`
	Location int    `json:"-"` // byte offset of the first reference in the SQL text
}

// Position returns the 1-based line and column of the relation's first reference in sql.
func (r Relation) Position(sql string) (line, col int) {
	if r.Location < 0 || r.Location > len(sql) {
		return 0, 0
	}
	return position(sql, r.Location)
}

func (r Relation) String() string {
	if r.Schema == "" {
		return r.Name
	}
	return r.Schema + "." + r.Name
}

// FuncRef is a function called anywhere in the query, as written.
type FuncRef struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
}

func (f FuncRef) String() string {
	if f.Schema == "" {
		return f.Name
	}
	return f.Schema + "." + f.Name
}

// Query is one validated plain SELECT.
type Query struct {
	sql        string
	pb         []byte // the parse tree as pg_query's C side serialised it (Deparse reuses it)
	tree       *pg_query.ParseResult
	stmt       *pg_query.SelectStmt
	relations  []Relation
	functions  []FuncRef
	tableFns   []FuncRef
	deparsed   string // verified (Deparse)
	deparseErr error
	canon      string // the deparsed text, verified only where the tree needs it (canonical)
	plainNodes bool   // every node of the tree is in plainNode's set
}

// Parse parses sql and checks that it is exactly one plain SELECT: no SELECT INTO, no
// locking clause (FOR UPDATE/SHARE) anywhere, no data-modifying CTE. A trailing semicolon and
// comments are fine. Errors are *Error with the line and column when Postgres' parser gives one.
func Parse(sql string) (*Query, error) {
	if i := strings.IndexByte(sql, 0); i >= 0 {
		// pg_query reads a C string: it would silently stop at the NUL byte.
		return nil, newError(ErrSyntax, sql, i, "the SQL text contains a NUL byte: remove it")
	}
	// pg_query.Parse, keeping the serialised tree: Deparse hands it back to the C side as it
	// is instead of re-serialising the Go tree (which nothing changes).
	pb, err := parser.ParseToProtobuf(sql)
	var tree *pg_query.ParseResult
	if err == nil {
		tree = &pg_query.ParseResult{}
		err = proto.Unmarshal(pb, tree)
	}
	if err != nil {
		var pe *parser.Error
		if errors.As(err, &pe) {
			e := newError(ErrSyntax, sql, charOffset(sql, pe.Cursorpos-1), "%s", pe.Message)
			e.Err = pe
			return nil, e
		}
		return nil, &Error{Kind: ErrSyntax, Message: err.Error(), Err: err}
	}
	switch len(tree.Stmts) {
	case 0:
		return nil, &Error{Kind: ErrEmpty, Message: "no SQL statement (the text is empty or only comments)"}
	case 1:
	default:
		return nil, newError(ErrMultipleStatements, sql, int(tree.Stmts[1].StmtLocation),
			"expected exactly one statement, found %d: remove everything after the first statement", len(tree.Stmts))
	}
	raw := tree.Stmts[0]
	sel := raw.Stmt.GetSelectStmt()
	if sel == nil {
		return nil, newError(ErrNotSelect, sql, int(raw.StmtLocation), "only a SELECT is allowed, found %s", stmtKind(raw.Stmt))
	}
	q := &Query{sql: sql, pb: pb, tree: tree, stmt: sel}
	if err := q.validate(sel, true); err != nil {
		return nil, err
	}
	w := walker{q: q}
	if err := w.walkSelect(sel, nil); err != nil {
		return nil, err
	}
	return q, nil
}

// charOffset converts a 0-based character index (Postgres' cursor position minus one) into a
// byte offset; -1 when unknown.
func charOffset(sql string, chars int) int {
	if chars < 0 {
		return -1
	}
	n := 0
	for i := range sql {
		if n == chars {
			return i
		}
		n++
	}
	return len(sql)
}

func stmtKind(n *pg_query.Node) string {
	if n == nil || n.Node == nil {
		return "nothing"
	}
	name := string(n.ProtoReflect().WhichOneof(n.ProtoReflect().Descriptor().Oneofs().Get(0)).Message().Name())
	switch name {
	case "InsertStmt":
		return "INSERT"
	case "UpdateStmt":
		return "UPDATE"
	case "DeleteStmt":
		return "DELETE"
	case "MergeStmt":
		return "MERGE"
	case "TransactionStmt":
		return "a transaction statement"
	case "ExplainStmt":
		return "EXPLAIN"
	case "VariableSetStmt":
		return "SET"
	case "CopyStmt":
		return "COPY"
	case "CreateTableAsStmt":
		return "CREATE TABLE AS"
	}
	return "a " + strings.TrimSuffix(name, "Stmt") + " statement"
}

// validate rejects INTO, locking clauses and data-modifying CTEs anywhere in the tree.
func (q *Query) validate(sel *pg_query.SelectStmt, top bool) error {
	var err error
	plain := true
	walkTree(sel, func(m proto.Message) bool {
		if err != nil {
			return false
		}
		plain = plain && plainNode(m)
		switch n := m.(type) {
		case *pg_query.SelectStmt:
			if n.IntoClause != nil {
				err = newError(ErrNotSelect, q.sql, int(n.IntoClause.GetRel().GetLocation()), "SELECT INTO creates a table; only a plain SELECT is allowed")
			} else if len(n.LockingClause) > 0 {
				err = newError(ErrNotSelect, q.sql, lockingOffset(q.sql), "a locking clause (FOR UPDATE/SHARE) is not allowed: the query must be read-only")
			}
		case *pg_query.CommonTableExpr:
			if n.Ctequery.GetSelectStmt() == nil {
				err = newError(ErrNotSelect, q.sql, int(n.Location), "WITH %s is a data-modifying statement (%s); only SELECT is allowed", n.Ctename, stmtKind(n.Ctequery))
			}
		}
		return err == nil
	})
	q.plainNodes = plain
	return err
}

// Relations lists every relation the query reads, once each in order of first appearance,
// without CTE references (a CTE name shadows an unqualified relation name only inside its
// WITH scope). Table functions are not relations: see TableFunctions.
func (q *Query) Relations() []Relation { return append([]Relation(nil), q.relations...) }

// Functions lists every function called anywhere in the query (target list, WHERE, FROM,
// subqueries, CTEs, …), deduplicated, in order of appearance.
func (q *Query) Functions() []FuncRef { return append([]FuncRef(nil), q.functions...) }

// TableFunctions lists the set-returning functions used as FROM items; they are opaque
// sources, not relations.
func (q *Query) TableFunctions() []FuncRef { return append([]FuncRef(nil), q.tableFns...) }

// Deparse returns the canonical SQL text of the parse tree (no comments, normalised
// formatting). It is the text agentmv executes, never the raw input, so it is verified: the
// text must parse again to a tree that deparses to the same text. pg_query's deparser has
// rare bugs (e.g. it drops the parentheses a PASSING expression of XMLTABLE needs); those
// queries fail with ErrDeparse instead of running something other than what was checked.
func (q *Query) Deparse() (string, error) {
	if q.deparsed != "" || q.deparseErr != nil {
		return q.deparsed, q.deparseErr
	}
	// All on pg_query's C side: deparse the tree as parsed, then parse that text and deparse
	// it again. The Go tree is neither re-serialised nor rebuilt for the check.
	s, err := parser.DeparseFromProtobuf(q.pb)
	if err == nil {
		var again []byte
		if again, err = parser.ParseToProtobuf(s); err == nil {
			var s2 string
			if s2, err = parser.DeparseFromProtobuf(again); err == nil && s2 != s {
				err = fmt.Errorf("the canonical text is not stable: %q becomes %q", s, s2)
			}
		}
	}
	if err != nil {
		q.deparseErr = &Error{Kind: ErrDeparse, Err: err,
			Message: "pg_query cannot print this query back faithfully (" + err.Error() + "): rewrite the construct it names, e.g. add or remove parentheses"}
		return "", q.deparseErr
	}
	q.deparsed = s
	return s, nil
}

// canonical returns the deparsed text for lineage and the hash. When every node of the tree
// is a plain one (plainNode: the core of SELECT that pg_query's deparser prints directly and
// that TestPlainNodesRoundTrip checks on the whole corpus), one deparse is enough; any other
// construct (XMLTABLE, JSON_TABLE, ranges of rows, type modifiers, ...) gets the full
// round-trip check of Deparse. Execution of agent SQL always uses Deparse.
func (q *Query) canonical() (string, error) {
	if q.deparsed != "" || q.deparseErr != nil || !q.plainNodes {
		return q.Deparse()
	}
	if q.canon == "" {
		s, err := parser.DeparseFromProtobuf(q.pb)
		if err != nil {
			return q.Deparse() // reported (and classified) by the full check
		}
		q.canon = s
	}
	return q.canon, nil
}

// Hash is the hex sha256 of the deparsed tree: formatting, comments and keyword case do not
// change it; every constant, alias, identifier and column order does.
func (q *Query) Hash() string {
	s, err := q.canonical()
	if err != nil {
		// No faithful text (ErrDeparse): hash the tree itself, positions included.
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(q.tree)
		s = "tree:" + string(b)
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// plainNode reports whether m is one of the parse nodes of plain SELECTs whose deparse needs
// no round-trip check: relations, joins, subqueries, CTEs, target lists, column references,
// constants, operators, function calls (aggregates, windows), CASE, COALESCE, casts,
// NULL/boolean tests, sorting. Everything else is verified (Deparse).
func plainNode(m proto.Message) bool {
	switch m.(type) {
	case *pg_query.Node, *pg_query.List, *pg_query.SelectStmt, *pg_query.ResTarget,
		*pg_query.ColumnRef, *pg_query.A_Const, *pg_query.A_Expr, *pg_query.A_Star,
		*pg_query.FuncCall, *pg_query.JoinExpr, *pg_query.RangeVar, *pg_query.RangeSubselect,
		*pg_query.Alias, *pg_query.BoolExpr, *pg_query.SubLink, *pg_query.CaseExpr,
		*pg_query.CaseWhen, *pg_query.CoalesceExpr, *pg_query.NullTest, *pg_query.BooleanTest,
		*pg_query.TypeCast, *pg_query.TypeName, *pg_query.SortBy, *pg_query.WindowDef,
		*pg_query.CommonTableExpr, *pg_query.WithClause, *pg_query.String, *pg_query.Integer,
		*pg_query.Float, *pg_query.Boolean, *pg_query.SQLValueFunction, *pg_query.MinMaxExpr:
		return true
	}
	return false
}

// SQL returns the text the query was parsed from.
func (q *Query) SQL() string { return q.sql }

// walker collects relations and functions with CTE scoping.
type walker struct {
	q      *Query
	seenFn map[string]bool
}

type scope struct {
	parent *scope
	names  map[string]bool
}

func (s *scope) has(name string) bool {
	for c := s; c != nil; c = c.parent {
		if c.names[name] {
			return true
		}
	}
	return false
}

func (w *walker) walkSelect(sel *pg_query.SelectStmt, sc *scope) error {
	if sel == nil {
		return nil
	}
	if wc := sel.WithClause; wc != nil {
		inner := &scope{parent: sc, names: map[string]bool{}}
		if wc.Recursive {
			for _, c := range wc.Ctes {
				inner.names[c.GetCommonTableExpr().GetCtename()] = true
			}
		}
		for _, c := range wc.Ctes {
			cte := c.GetCommonTableExpr()
			if err := w.walkSelect(cte.GetCtequery().GetSelectStmt(), inner); err != nil {
				return err
			}
			inner.names[cte.Ctename] = true // visible to later CTEs and the body
		}
		sc = inner
	}
	var err error
	eachChild(sel, func(field string, c proto.Message) bool {
		if field == "with_clause" {
			return true
		}
		err = w.walkMessage(c, sc)
		return err == nil
	})
	return err
}

func (w *walker) walkMessage(m proto.Message, sc *scope) error {
	switch n := m.(type) {
	case *pg_query.SelectStmt:
		return w.walkSelect(n, sc)
	case *pg_query.RangeVar:
		if n.Catalogname != "" {
			return newError(ErrCatalogName, w.q.sql, int(n.Location),
				"%s.%s.%s names a database; cross-database references are not supported: use schema.table", n.Catalogname, n.Schemaname, n.Relname)
		}
		if n.Schemaname == "" && sc.has(n.Relname) {
			return nil // a CTE reference
		}
		r := Relation{Schema: n.Schemaname, Name: n.Relname, Location: int(n.Location)}
		if !slices.ContainsFunc(w.q.relations, func(x Relation) bool { return x.Schema == r.Schema && x.Name == r.Name }) {
			w.q.relations = append(w.q.relations, r)
		}
		return nil
	case *pg_query.RangeFunction:
		for _, f := range n.Functions {
			if items := f.GetList().GetItems(); len(items) > 0 {
				if fc := items[0].GetFuncCall(); fc != nil {
					w.addTableFn(funcRef(fc.Funcname))
				}
			}
		}
	case *pg_query.RangeTableFunc:
		w.addTableFn(FuncRef{Name: "xmltable"})
	case *pg_query.JsonTable:
		w.addTableFn(FuncRef{Name: "json_table"})
	case *pg_query.FuncCall:
		if len(n.Funcname) > 2 {
			return newError(ErrCatalogName, w.q.sql, int(n.Location),
				"function name %s names a database; cross-database references are not supported", funcName(n.Funcname))
		}
		f := funcRef(n.Funcname)
		key := f.String()
		if w.seenFn == nil {
			w.seenFn = map[string]bool{}
		}
		if !w.seenFn[key] {
			w.seenFn[key] = true
			w.q.functions = append(w.q.functions, f)
		}
	}
	var err error
	eachChild(m, func(_ string, c proto.Message) bool {
		err = w.walkMessage(c, sc)
		return err == nil
	})
	return err
}

func (w *walker) addTableFn(f FuncRef) {
	if !slices.Contains(w.q.tableFns, f) {
		w.q.tableFns = append(w.q.tableFns, f)
	}
}

func funcName(names []*pg_query.Node) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, n.GetString_().GetSval())
	}
	return strings.Join(parts, ".")
}

func funcRef(names []*pg_query.Node) FuncRef {
	var parts []string
	for _, n := range names {
		parts = append(parts, n.GetString_().GetSval())
	}
	switch len(parts) {
	case 0:
		return FuncRef{}
	case 1:
		return FuncRef{Name: parts[0]}
	}
	return FuncRef{Schema: parts[len(parts)-2], Name: parts[len(parts)-1]}
}

func sortedUnique(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// lockingOffset finds the byte offset of the first locking clause (FOR UPDATE, FOR NO KEY
// UPDATE, FOR SHARE, FOR KEY SHARE) with pg_query's scanner; the parse tree has no location
// for it. -1 when not found.
func lockingOffset(sql string) int {
	res, err := pg_query.Scan(sql)
	if err != nil {
		return -1
	}
	toks := res.GetTokens()
	for i := 0; i+1 < len(toks); i++ {
		if toks[i].Token != pg_query.Token_FOR {
			continue
		}
		switch toks[i+1].Token {
		case pg_query.Token_UPDATE, pg_query.Token_SHARE, pg_query.Token_NO, pg_query.Token_KEY:
			return int(toks[i].Start)
		}
	}
	return -1
}
