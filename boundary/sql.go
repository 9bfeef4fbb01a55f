package boundary

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"

	"github.com/jackc/pgx/v5"
)

// Names of agentmv's own objects in <S>. Every statement reaches them through these (in
// templates: {{.Views}}, {{.Lineage}}, ...), so each name is written once.
const (
	TableViews          = "views"           // the registry and refresh allowlist
	TableLineage        = "lineage"         // seed-compatible relation lineage
	TableColumnLineage  = "column_lineage"  // view column <- source column
	TableRefreshHistory = "refresh_history" // one row per refresh (and per creation by apply)
	TableSchemaVersion  = "schema_version"  // applied migrations
	TableAgentRoles     = "agent_roles"     // the agents of materialize.yaml and their roles (admin only)
	TableDeclaredTools  = "declared_tools"  // the tools of materialize.yaml as last applied (admin only)
	FunctionRefreshView = "refresh_view"    // <S>.refresh_view(text) RETURNS jsonb
	// ViewStatusMark is the one-row view whose value changes when any view's status may have
	// changed (statusmark.go): query_view reads it in its own round trip.
	ViewStatusMark = "refresh_status_mark"
	// TableIncremental is the owner-only state of incremental views: their maintenance SQL
	// and capture objects (the runtime role cannot read it).
	TableIncremental = "incremental"
	// FunctionIncrementalMode and FunctionIncrementalRefresh are refresh_view's helpers for
	// incremental views (owner only).
	FunctionIncrementalMode    = "incremental_mode"
	FunctionIncrementalRefresh = "incremental_refresh"
	// SequenceCapture numbers captured statements, for the order of a row's changes.
	SequenceCapture = "$capture_seq"
)

// MetadataTables are agentmv's relations the runtime role may SELECT (and query_view may read
// besides the managed views): its tables, and the status mark view. schema_version is among
// them so a runtime-only server can check that the objects are at ExpectedVersion (`agent-mv
// serve`'s /readyz).
func MetadataTables() []string {
	return []string{TableViews, TableLineage, TableColumnLineage, TableRefreshHistory, TableSchemaVersion, ViewStatusMark}
}

// OwnObjectNames are the relation names agentmv itself creates in <S> (tables, their primary
// keys, sequences and indexes). A managed view cannot take one of these names.
func OwnObjectNames() []string {
	return []string{
		TableLineage, TableColumnLineage, TableViews, TableRefreshHistory, TableSchemaVersion,
		TableLineage + "_pkey", TableColumnLineage + "_pkey", TableViews + "_pkey",
		TableRefreshHistory + "_pkey", TableSchemaVersion + "_pkey",
		TableAgentRoles, TableAgentRoles + "_pkey", TableAgentRoles + "_role_key",
		TableRefreshHistory + "_id_seq", historyIndex, TableIncremental, TableIncremental + "_pkey",
		TableDeclaredTools, TableDeclaredTools + "_pkey", ViewStatusMark,
	}
}

// historyIndex serves the per-view "last refresh" probes of status and the function.
const historyIndex = "refresh_history_view_name_started_at_idx"

// sqlText is one statement (or statement fragment) about agentmv's own objects, written as a
// text/template. This is the package's only way of building such SQL:
//
//   - identifiers come from the data's methods, always quoted with pgx.Identifier.Sanitize:
//     {{.S}} the schema, {{.R}} the runtime role, {{.O}} the owner role, {{.Views}},
//     {{.Lineage}}, {{.ColumnLineage}}, {{.History}}, {{.SchemaVersion}} and {{.Function}}
//     the schema-qualified objects, {{.Rel "name"}} any other relation in <S>, {{.Ident "x"}}
//     any other identifier;
//   - {{.SchemaLiteral}} is the schema name as a string literal, for function bodies, where a
//     parameter cannot go (the name is validated first);
//   - values are never interpolated: they are bound parameters ($1, $2, ...);
//   - {{range}} over .Args (identifiers given to render) or .RegistryColumns builds lists;
//     {{param $i 2}} numbers their placeholders;
//   - shared fragments are named templates in sqlFragments ({{template "usable_unique_index"}}).
//
// Templates are parsed once, when the package loads; rendering one only fills in names, and a
// statement rendered without args is kept for the first few Names (a text depends on nothing
// else), so a statement run once per view (an apply of hundreds) is rendered once.
type sqlText struct {
	t        *template.Template
	rendered *renderedTexts
}

// renderedTexts holds a statement's texts rendered without args, for at most maxRenderedNames
// sets of names: a process serves one project's names (and its agents'), while one that opens
// many projects, or a test binary with a database per test, would otherwise grow without end.
type renderedTexts struct {
	m sync.Map // Names -> string
	n atomic.Int32
}

const maxRenderedNames = 16

// sqlFragments are the named templates every sqlText can include.
var sqlFragments = template.Must(template.New("fragments").Option("missingkey=error").Funcs(sqlFuncs).Parse(
	usableUniqueIndexFragment + refreshModeFragment + lockFragments + runningRefreshesFragment + alterOwnerFragment + objectNameFragment +
		captureTokenFragment + managedRelkindFragment + strategyOfFragment))

// sqlFuncs are the template helpers besides the data's methods: param i n is the bound
// parameter placeholder $(i+n), for lists of columns ranged over.
var sqlFuncs = template.FuncMap{
	"param": func(i, n int) string { return fmt.Sprintf("$%d", i+n) },
}

// mustSQL parses text as a template (with the shared fragments); it panics on a template
// error, which only a broken constant in this package can cause (the tests render them all).
func mustSQL(name, text string) sqlText {
	if sqlFragments.Lookup(name) != nil {
		panic("boundary: statement " + name + " would replace the fragment of that name")
	}
	t := template.Must(template.Must(sqlFragments.Clone()).New(name).Parse(text))
	return sqlText{t: t, rendered: new(renderedTexts)}
}

// render fills in the names of n, and args for {{.Arg i}} (identifiers that are not
// agentmv's: a source schema, a database). Callers validate n first (at least its schema).
func (s sqlText) render(n Names, args ...string) string {
	if len(args) == 0 {
		if text, ok := s.rendered.m.Load(n); ok {
			return text.(string)
		}
	}
	var b strings.Builder
	if err := s.t.Execute(&b, sqlData{n: n, args: args}); err != nil {
		panic(fmt.Sprintf("boundary: render %s: %v", s.t.Name(), err))
	}
	if len(args) == 0 && s.rendered.n.Load() < maxRenderedNames && s.rendered.n.Add(1) <= maxRenderedNames {
		s.rendered.m.Store(n, b.String())
	}
	return b.String()
}

// renderWith executes the template on data that embeds sqlData and adds methods of its own
// (captureData); unlike render, a data error is returned, not a panic.
func (s sqlText) renderWith(data any) (string, error) {
	var b strings.Builder
	if err := s.t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render %s: %w", s.t.Name(), err)
	}
	return b.String(), nil
}

// sqlData is what templates see: quoted names only.
type sqlData struct {
	n    Names
	args []string
}

// Args returns the unquoted args (range over them and quote each with $.Ident).
func (d sqlData) Args() []string { return d.args }

// RegistryColumns are the columns of <S>.views that ViewRecord carries (see registry.go).
func (d sqlData) RegistryColumns() []registryColumn { return registryColumns() }

// ColumnDefinition is the type and options of the registry column named args[i], for
// ADD COLUMN.
func (d sqlData) ColumnDefinition(i int) (string, error) {
	for _, c := range registryColumns() {
		if c.name == d.args[i] {
			return strings.TrimSpace(c.typ + " " + c.def), nil
		}
	}
	return "", fmt.Errorf("no registry column %q", d.args[i])
}

// LitArg returns args[i] as a string literal: only for values Postgres does not take as
// parameters (a password verifier in CREATE ROLE), which the caller has checked.
func (d sqlData) LitArg(i int) string { return quoteLiteral(d.args[i]) }

// TextArg returns args[i], free text (a comment), as an escape string literal E'...' that
// stays one literal whatever standard_conforming_strings says, or NULL when it is empty. Only
// for utility statements that take no parameters (COMMENT); the caller refuses NUL bytes.
func (d sqlData) TextArg(i int) string {
	if d.args[i] == "" {
		return "NULL"
	}
	return "E'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(d.args[i]) + "'"
}

// Arg returns args[i] quoted as an identifier; ArgRel args[i].args[j].
func (d sqlData) Arg(i int) string       { return pgx.Identifier{d.args[i]}.Sanitize() }
func (d sqlData) ArgRel(i, j int) string { return pgx.Identifier{d.args[i], d.args[j]}.Sanitize() }

func (d sqlData) S() string              { return pgx.Identifier{d.n.Schema}.Sanitize() }
func (d sqlData) R() string              { return pgx.Identifier{d.n.RuntimeRole}.Sanitize() }
func (d sqlData) O() string              { return pgx.Identifier{d.n.OwnerRole}.Sanitize() }
func (d sqlData) Rel(name string) string { return pgx.Identifier{d.n.Schema, name}.Sanitize() }
func (d sqlData) Ident(s string) string  { return pgx.Identifier{s}.Sanitize() }
func (d sqlData) Views() string          { return d.Rel(TableViews) }
func (d sqlData) Lineage() string        { return d.Rel(TableLineage) }
func (d sqlData) ColumnLineage() string  { return d.Rel(TableColumnLineage) }
func (d sqlData) History() string        { return d.Rel(TableRefreshHistory) }
func (d sqlData) SchemaVersion() string  { return d.Rel(TableSchemaVersion) }
func (d sqlData) Function() string       { return d.Rel(FunctionRefreshView) }
func (d sqlData) AgentRoles() string     { return d.Rel(TableAgentRoles) }
func (d sqlData) DeclaredTools() string  { return d.Rel(TableDeclaredTools) }
func (d sqlData) StatusMark() string     { return d.Rel(ViewStatusMark) }
func (d sqlData) SchemaLiteral() string  { return quoteLiteral(d.n.Schema) }

// DefaultRefreshLockTimeout is DefaultRefreshLockTimeout as a string literal ('5000ms'), for
// the refresh function's SET clause and fallback (a constant, never user input).
func (d sqlData) DefaultRefreshLockTimeout() string {
	return quoteLiteral(fmt.Sprintf("%dms", DefaultRefreshLockTimeout.Milliseconds()))
}
func (d sqlData) Incremental() string { return d.Rel(TableIncremental) }
func (d sqlData) CaptureSeq() string  { return d.Rel(SequenceCapture) }

// IncrementalLiteral is <S>.incremental's quoted name as a string literal (for to_regclass).
func (d sqlData) IncrementalLiteral() string { return quoteLiteral(d.Incremental()) }

// IncrementalMode and IncrementalRefresh are refresh_view's helpers for incremental views.
func (d sqlData) IncrementalMode() string    { return d.Rel(FunctionIncrementalMode) }
func (d sqlData) IncrementalRefresh() string { return d.Rel(FunctionIncrementalRefresh) }
