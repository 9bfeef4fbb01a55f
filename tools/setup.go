package tools

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/fileio"
)

// SetupConfig is what the setup tools need. They run once, during onboarding, on the
// privileged DSN; hosts get it filled by agentmv's Project.SetupTools.
type SetupConfig struct {
	// Pool connects with the privileged DSN (DATABASE_URL).
	Pool *pgxpool.Pool
	// Root is the project directory (where materialize.yaml lives). read_repo_files is
	// confined to it; the staging file and materialize/<name>.sql are written in it.
	Root string
	// Schema is the target schema <S>.
	Schema string
	// Limits bound sample_query (as query_view).
	Limits Limits
	// ViewNames returns the names of the views already in materialize.yaml.
	ViewNames func() []string
	// AddViews appends views to materialize.yaml (keeping its comments). Their SQL files
	// (SQLFile, relative to Root) are written before it is called.
	AddViews func(ctx context.Context, views []NewView) error
}

// NewView is a view finalize_config adds to the project file.
type NewView struct {
	Name        string
	SQLFile     string // relative to SetupConfig.Root, e.g. materialize/<name>.sql
	Description string
	Indexes     []IndexSuggestion
}

// Setup tool names (the seed's).
const (
	ToolListSchemas    = "list_schemas"
	ToolListTables     = "list_tables"
	ToolDescribeTable  = "describe_table"
	ToolProfileTable   = "profile_table"
	ToolSampleQuery    = "sample_query"
	ToolReadRepoFiles  = "read_repo_files"
	ToolProposeView    = "propose_view"
	ToolFinalizeConfig = "finalize_config"
)

// StagingFileName is the file propose_view writes and finalize_config reads (the seed's).
const StagingFileName = ".materialize-staging.yaml"

// Read caps of read_repo_files.
const (
	MaxRepoFiles     = 100
	MaxRepoFileBytes = 200_000
	MaxRepoBytes     = 1 << 20
)

// SetupTools returns the eight setup tools (toolset [ToolsetSetup]) on cfg.
func SetupTools(cfg SetupConfig) (*Registry, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("tools: setup tools need a pool on the privileged DSN (SetupConfig.Pool)")
	}
	if cfg.Schema == "" {
		cfg.Schema = boundary.DefaultSchema
	}
	if cfg.Root == "" {
		return nil, fmt.Errorf("tools: setup tools need the project directory (SetupConfig.Root)")
	}
	root, err := filepath.Abs(cfg.Root)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return nil, fmt.Errorf("tools: setup tools: project directory: %w", err)
	}
	cfg.Root = root
	cfg.Limits = cfg.Limits.withDefaults()
	st := &setupTools{cfg: cfg}
	ro := []Option{ReadOnly(), OpenWorld(false), InToolset(ToolsetSetup)}
	reg := NewRegistry()
	err = reg.Add(
		New(ToolListSchemas, "List the user schemas of the database.", st.listSchemas, ro...),
		New(ToolListTables, "List the tables, views and materialized views of a schema with estimated row counts.", st.listTables, ro...),
		New(ToolDescribeTable, "Describe a table (schema.table, or a bare name in public): columns, types, nullability, primary key, unique and foreign keys.", st.describeTable, ro...),
		New(ToolProfileTable, "Profile a table from planner statistics: estimated rows, and per column the null fraction, distinct estimate and most common values.", st.profileTable, ro...),
		New(ToolSampleQuery, "Run one read-only SELECT on the user tables (no catalogs, no side-effect functions), in a read-only transaction with a timeout, capped in rows and bytes.",
			st.sampleQuery, append(ro, TextOnly(),
				Param("limit", Description(fmt.Sprintf("Most rows to return (at most %d)", cfg.Limits.MaxRows)), Default(cfg.Limits.MaxRows)))...),
		New(ToolReadRepoFiles, fmt.Sprintf("Read project files matching globs (relative to the project root, ** allowed), to learn the data model from code. Never reads .env*, keys, .git, vendor or node_modules; at most %d files, %d bytes each.", MaxRepoFiles, MaxRepoFileBytes),
			st.readRepoFiles, ro...),
		New(ToolProposeView, "Stage a proposed materialized view in "+StagingFileName+" after validating its name and SQL; suggests a unique index so refreshes can run concurrently. Returns the staged proposals.",
			st.proposeView, OpenWorld(false), Destructive(false), Idempotent(), InToolset(ToolsetSetup)),
		New(ToolFinalizeConfig, "Move approved staged proposals into materialize.yaml and materialize/<name>.sql (then run `agent-mv apply`).",
			st.finalizeConfig, OpenWorld(false), Destructive(false), InToolset(ToolsetSetup)),
	)
	if err != nil {
		return nil, err
	}
	return reg, nil
}

type setupTools struct {
	cfg SetupConfig
	mu  sync.Mutex // serialises staging and config writes
}

// ---- list_schemas / list_tables ----

// SchemasOutput is list_schemas' result.
type SchemasOutput struct {
	Schemas []string `json:"schemas"`
}

func (st *setupTools) listSchemas(ctx context.Context, _ noInput) (SchemasOutput, error) {
	rows, err := st.cfg.Pool.Query(ctx, `SELECT nspname FROM pg_catalog.pg_namespace
 WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY 1`)
	if err != nil {
		return SchemasOutput{}, err
	}
	s, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return SchemasOutput{Schemas: nonNil(s)}, err
}

// SchemaInput is list_tables' input.
type SchemaInput struct {
	Schema string `json:"schema" jsonschema:"description=Schema name, e.g. public,minLength=1"`
}

// TableSummary is one relation of list_tables.
type TableSummary struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"` // table, view, materialized view, partitioned table, foreign table
	RowsEstimate *int64 `json:"rows_estimate"`
}

// TablesOutput is list_tables' result.
type TablesOutput struct {
	Schema string         `json:"schema"`
	Tables []TableSummary `json:"tables"`
}

const relkindSQL = `CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
  WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' END`

func (st *setupTools) listTables(ctx context.Context, in SchemaInput) (TablesOutput, error) {
	out := TablesOutput{Schema: in.Schema, Tables: []TableSummary{}}
	var exists bool
	if err := st.cfg.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, in.Schema).Scan(&exists); err != nil {
		return out, err
	}
	if !exists {
		return out, &ToolError{ErrorType: ErrUnknownRelation, Message: "unknown schema: " + in.Schema, Hint: "call list_schemas"}
	}
	rows, err := st.cfg.Pool.Query(ctx, `SELECT c.relname, `+relkindSQL+`, CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 END
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
 ORDER BY 1`, in.Schema)
	if err != nil {
		return out, err
	}
	var t TableSummary
	_, err = pgx.ForEachRow(rows, []any{&t.Name, &t.Kind, &t.RowsEstimate}, func() error {
		out.Tables = append(out.Tables, t)
		return nil
	})
	return out, err
}

// ---- describe_table ----

// TableInput names a table: schema.table, or a bare name meaning public.table.
type TableInput struct {
	Name string `json:"name" jsonschema:"description=schema.table (a bare name means public),minLength=1"`
}

// TableColumn is one column of describe_table.
type TableColumn struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Nullable bool    `json:"nullable"`
	Default  *string `json:"default,omitempty"`
}

// ForeignKey is one foreign key of describe_table.
type ForeignKey struct {
	Columns    []string `json:"columns"`
	References string   `json:"references"` // schema.table(col, ...)
}

// TableOutput is describe_table's result.
type TableOutput struct {
	Name        string        `json:"name"`
	Kind        string        `json:"kind"`
	Columns     []TableColumn `json:"columns"`
	PrimaryKey  []string      `json:"primary_key"`
	UniqueKeys  [][]string    `json:"unique_keys"`
	ForeignKeys []ForeignKey  `json:"foreign_keys"`
}

type relation struct {
	oid          uint32
	schema, name string
	kind         string
}

func splitTableName(name string) (string, string) {
	schema, table, ok := strings.Cut(name, ".")
	if !ok {
		schema, table = "public", name
	}
	unq := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
		}
		return s
	}
	return unq(schema), unq(table)
}

func (st *setupTools) lookup(ctx context.Context, name string) (relation, error) {
	schema, table := splitTableName(name)
	r := relation{schema: schema, name: table}
	err := st.cfg.Pool.QueryRow(ctx, `SELECT c.oid, `+relkindSQL+`
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')`, schema, table).Scan(&r.oid, &r.kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, &ToolError{ErrorType: ErrUnknownRelation,
			Message: fmt.Sprintf("unknown table: %s.%s", schema, table),
			Hint:    "call list_tables(schema) for the names; write schema.table"}
	}
	return r, err
}

func (st *setupTools) describeTable(ctx context.Context, in TableInput) (TableOutput, error) {
	r, err := st.lookup(ctx, in.Name)
	if err != nil {
		return TableOutput{}, err
	}
	out := TableOutput{Name: r.schema + "." + r.name, Kind: r.kind, Columns: []TableColumn{},
		PrimaryKey: []string{}, UniqueKeys: [][]string{}, ForeignKeys: []ForeignKey{}}
	rows, err := st.cfg.Pool.Query(ctx, `SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid)
  FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, r.oid)
	if err != nil {
		return out, err
	}
	var c TableColumn
	if _, err := pgx.ForEachRow(rows, []any{&c.Name, &c.Type, &c.Nullable, &c.Default}, func() error {
		out.Columns = append(out.Columns, c)
		return nil
	}); err != nil {
		return out, err
	}
	rows, err = st.cfg.Pool.Query(ctx, `SELECT k.contype::text,
       (SELECT array_agg(a.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(n, ord)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n),
       CASE WHEN k.contype = 'f' THEN
         (SELECT quote_ident(fn.nspname) || '.' || quote_ident(fc.relname) || '(' ||
                 string_agg(quote_ident(a.attname), ', ' ORDER BY u.ord) || ')'
            FROM unnest(k.confkey) WITH ORDINALITY u(n, ord)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n
            JOIN pg_catalog.pg_class fc ON fc.oid = k.confrelid
            JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
           GROUP BY fn.nspname, fc.relname) END
  FROM pg_catalog.pg_constraint k
 WHERE k.conrelid = $1 AND k.contype IN ('p', 'u', 'f') ORDER BY k.contype, k.conname`, r.oid)
	if err != nil {
		return out, err
	}
	var typ string
	var cols []string
	var ref *string
	_, err = pgx.ForEachRow(rows, []any{&typ, &cols, &ref}, func() error {
		switch typ {
		case "p":
			out.PrimaryKey = cols
		case "u":
			out.UniqueKeys = append(out.UniqueKeys, cols)
		case "f":
			fk := ForeignKey{Columns: cols}
			if ref != nil {
				fk.References = *ref
			}
			out.ForeignKeys = append(out.ForeignKeys, fk)
		}
		return nil
	})
	return out, err
}

// ---- profile_table ----

// ColumnProfile is one column of profile_table, from pg_stats.
type ColumnProfile struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	NullFrac *float64 `json:"null_fraction"`
	// Distinct is pg_stats.n_distinct made absolute: an estimated count of distinct values.
	Distinct  *int64     `json:"distinct_estimate"`
	TopValues []TopValue `json:"top_values,omitempty"`
}

// TopValue is one of the most common values of a column with its frequency.
type TopValue struct {
	Value     string  `json:"value"`
	Frequency float64 `json:"frequency"`
}

// ProfileOutput is profile_table's result.
type ProfileOutput struct {
	Name         string          `json:"name"`
	RowsEstimate *int64          `json:"rows_estimate"`
	Analyzed     bool            `json:"analyzed"`
	Note         string          `json:"note,omitempty"`
	Columns      []ColumnProfile `json:"columns"`
	ForeignKeys  []ForeignKey    `json:"foreign_keys"`
}

// maxTopValues bounds the most-common values listed per column.
const maxTopValues = 5

func (st *setupTools) profileTable(ctx context.Context, in TableInput) (ProfileOutput, error) {
	desc, err := st.describeTable(ctx, in)
	if err != nil {
		return ProfileOutput{}, err
	}
	r, err := st.lookup(ctx, in.Name)
	if err != nil {
		return ProfileOutput{}, err
	}
	out := ProfileOutput{Name: desc.Name, Columns: []ColumnProfile{}, ForeignKeys: desc.ForeignKeys}
	var reltuples float64
	if err := st.cfg.Pool.QueryRow(ctx, `SELECT reltuples FROM pg_catalog.pg_class WHERE oid = $1`, r.oid).Scan(&reltuples); err != nil {
		return out, err
	}
	if reltuples >= 0 {
		n := int64(reltuples)
		out.RowsEstimate = &n
	}
	rows, err := st.cfg.Pool.Query(ctx, `SELECT attname, null_frac::float8,
       CASE WHEN n_distinct >= 0 THEN n_distinct::int8 ELSE (-n_distinct * greatest($3::float8, 0))::int8 END,
       (most_common_vals::text)::text[], most_common_freqs::float8[]
  FROM pg_catalog.pg_stats WHERE schemaname = $1 AND tablename = $2`, r.schema, r.name, reltuples)
	if err != nil {
		return out, err
	}
	type stat struct {
		null     float64
		distinct int64
		vals     []string
		freqs    []float64
	}
	stats := map[string]stat{}
	var name string
	var s stat
	if _, err := pgx.ForEachRow(rows, []any{&name, &s.null, &s.distinct, &s.vals, &s.freqs}, func() error {
		stats[name] = s
		s = stat{}
		return nil
	}); err != nil {
		return out, err
	}
	out.Analyzed = len(stats) > 0
	if !out.Analyzed {
		out.Note = fmt.Sprintf("no planner statistics yet: run ANALYZE %s (as the admin) and profile again", pgx.Identifier{r.schema, r.name}.Sanitize())
	}
	for _, c := range desc.Columns {
		p := ColumnProfile{Name: c.Name, Type: c.Type}
		if s, ok := stats[c.Name]; ok {
			p.NullFrac, p.Distinct = &s.null, &s.distinct
			for i := 0; i < len(s.vals) && i < len(s.freqs) && i < maxTopValues; i++ {
				p.TopValues = append(p.TopValues, TopValue{Value: s.vals[i], Frequency: s.freqs[i]})
			}
		}
		out.Columns = append(out.Columns, p)
	}
	return out, nil
}

// ---- sample_query ----

func (st *setupTools) sampleQuery(ctx context.Context, in QueryInput) (Result, error) {
	deparsed, err := guardSample(in.SQL)
	if err != nil {
		return Result{}, err
	}
	limits := st.cfg.Limits
	if in.Limit > 0 && in.Limit < limits.MaxRows {
		limits.MaxRows = in.Limit
	}
	// search_path = public, pg_catalog, pg_temp: unqualified names mean public, as the seed.
	return ExecQuery(ctx, st.cfg.Pool, "public", deparsed, limits)
}

// ---- read_repo_files ----

// GlobsInput is read_repo_files' input.
type GlobsInput struct {
	Globs []string `json:"globs" jsonschema:"description=Glob patterns relative to the project root (* and ? within a name; ** for any depth),minItems=1,maxItems=50"`
}

// SkippedFile is a file read_repo_files matched but did not return.
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// RepoFilesOutput is read_repo_files' result.
type RepoFilesOutput struct {
	Files     map[string]string `json:"files"`
	Skipped   []SkippedFile     `json:"skipped,omitempty"`
	Truncated bool              `json:"truncated"`
}

// deniedDirs are never walked (VCS, vendored and generated code, virtualenvs).
var deniedDirs = []string{".git", ".hg", ".svn", "vendor", "node_modules", ".venv", "venv", "__pycache__", ".idea", ".terraform"}

// deniedFile reports whether a file name may hold secrets.
func deniedFile(name string) bool {
	n := strings.ToLower(name)
	switch {
	case strings.HasPrefix(n, ".env"), n == ".pgpass", n == ".netrc", n == ".npmrc", n == ".pypirc",
		strings.HasPrefix(n, "id_rsa"), strings.HasPrefix(n, "id_dsa"), strings.HasPrefix(n, "id_ecdsa"), strings.HasPrefix(n, "id_ed25519"):
		return true
	}
	for _, ext := range []string{".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".crt", ".der", ".kdbx", ".gpg", ".asc"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

func (st *setupTools) readRepoFiles(ctx context.Context, in GlobsInput) (RepoFilesOutput, error) {
	out := RepoFilesOutput{Files: map[string]string{}}
	var pats [][]string
	for _, g := range in.Globs {
		g = filepath.ToSlash(strings.TrimSpace(g))
		g = strings.TrimPrefix(g, "./")
		if g == "" || strings.HasPrefix(g, "/") || filepath.IsAbs(g) || slices.Contains(strings.Split(g, "/"), "..") {
			return out, &ToolError{ErrorType: ErrNotAllowed,
				Message: fmt.Sprintf("glob %q leaves the project root", g),
				Hint:    "use patterns relative to the project root, without .. or a leading /"}
		}
		pats = append(pats, strings.Split(g, "/"))
	}
	root := st.cfg.Root
	total := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries are skipped
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p != root && slices.Contains(deniedDirs, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		segs := strings.Split(rel, "/")
		matched := false
		for _, pat := range pats {
			if matchSegments(pat, segs) {
				matched = true
				break
			}
		}
		if !matched {
			return nil
		}
		if deniedFile(d.Name()) {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "may hold secrets"})
			return nil
		}
		if len(out.Files) >= MaxRepoFiles || total >= MaxRepoBytes {
			out.Truncated = true
			return filepath.SkipAll
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "broken link"})
			return nil
		}
		if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "links outside the project root"})
			return nil
		}
		realRel, _ := filepath.Rel(root, real)
		for _, seg := range strings.Split(filepath.ToSlash(realRel), "/") {
			if slices.Contains(deniedDirs, seg) || deniedFile(seg) {
				out.Skipped = append(out.Skipped, SkippedFile{rel, "links to a denied file"})
				return nil
			}
		}
		fi, err := os.Stat(real)
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		budget := min(MaxRepoFileBytes, MaxRepoBytes-total)
		data, err := fileio.ReadCapped(real, int64(budget))
		if err != nil {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "unreadable"})
			return nil
		}
		cut := len(data) > budget
		data = data[:min(len(data), budget)]
		for cut && len(data) > 0 && !utf8.Valid(data) { // cut at a character boundary
			data = data[:len(data)-1]
		}
		if !utf8.Valid(data) || slices.Contains(data, 0) {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "binary"})
			return nil
		}
		text := string(data)
		if cut {
			text += "\n... [truncated]"
			out.Truncated = true
		}
		total += len(data)
		out.Files[rel] = text
		return nil
	})
	return out, err
}

// matchSegments matches path segments against pattern segments; "**" matches any number of
// segments (including none), other segments use path.Match rules.
func matchSegments(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchSegments(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	if ok, _ := filepath.Match(pat[0], segs[0]); !ok {
		return false
	}
	return matchSegments(pat[1:], segs[1:])
}

// ---- propose_view ----

// ProposeInput is propose_view's input.
type ProposeInput struct {
	Name      string `json:"name" jsonschema:"description=View name: lower-case letters digits and _ (at most 63 bytes),minLength=1,maxLength=63"`
	SQL       string `json:"sql" jsonschema:"description=The view's SELECT,minLength=1"`
	Rationale string `json:"rationale" jsonschema:"description=Why agents need this view (becomes its description)"`
}

// Proposal is one staged view in the staging file.
type Proposal struct {
	Name      string            `json:"name" yaml:"name"`
	SQL       string            `json:"sql" yaml:"sql"`
	Rationale string            `json:"rationale" yaml:"rationale"`
	Indexes   []IndexSuggestion `json:"indexes,omitempty" yaml:"indexes,omitempty"`
	Columns   []string          `json:"columns,omitempty" yaml:"-"`
	Note      string            `json:"note,omitempty" yaml:"-"`
}

// StagingOutput is propose_view's result: the staged proposal and every staged proposal.
type StagingOutput struct {
	Proposed  Proposal   `json:"proposed"`
	Proposals []Proposal `json:"proposals"`
}

type stagingFile struct {
	Proposals []Proposal `yaml:"proposals"`
}

func (st *setupTools) stagingPath() string { return filepath.Join(st.cfg.Root, StagingFileName) }

func (st *setupTools) readStaging() (stagingFile, bool, error) {
	var sf stagingFile
	data, err := os.ReadFile(st.stagingPath())
	if errors.Is(err, fs.ErrNotExist) {
		return sf, false, nil
	}
	if err != nil {
		return sf, false, err
	}
	if err := yaml.Unmarshal(data, &sf); err != nil {
		return sf, true, fmt.Errorf("read %s: %w; fix or delete the file", StagingFileName, err)
	}
	return sf, true, nil
}

func (st *setupTools) writeStaging(sf stagingFile) error {
	if len(sf.Proposals) == 0 {
		err := os.Remove(st.stagingPath())
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	data, err := yaml.Marshal(sf)
	if err != nil {
		return err
	}
	return fileio.WriteAtomic(st.stagingPath(), data, 0o644)
}

func (st *setupTools) proposeView(ctx context.Context, in ProposeInput) (StagingOutput, error) {
	if err := boundary.ValidateName("view name", in.Name); err != nil {
		return StagingOutput{}, &ToolError{ErrorType: ErrInvalidArgument, Err: err, Message: err.Error(),
			Hint: "use lower-case letters, digits and _ only, starting with a letter or _, at most 63 bytes"}
	}
	if st.cfg.ViewNames != nil && slices.Contains(st.cfg.ViewNames(), in.Name) {
		return StagingOutput{}, &ToolError{ErrorType: ErrInvalidArgument,
			Message: fmt.Sprintf("view %s already exists in materialize.yaml", in.Name),
			Hint:    "pick another name, or edit the existing view's SQL file"}
	}
	sql := strings.TrimSpace(in.SQL)
	sql = strings.TrimSpace(strings.TrimSuffix(sql, ";"))
	if err := guardViewSQL(sql); err != nil {
		return StagingOutput{}, err
	}
	cols, err := st.describeStatement(ctx, sql)
	if err != nil {
		return StagingOutput{}, err
	}
	p := Proposal{Name: in.Name, SQL: sql, Rationale: in.Rationale, Columns: cols}
	if s := suggestUniqueIndex(sql, cols, func(schema, table string) []string { return st.primaryKey(ctx, schema, table) }); s != nil {
		p.Indexes = []IndexSuggestion{*s}
		p.Note = "suggested a unique index on (" + strings.Join(s.Columns, ", ") + "): " + s.Reason + "; refreshes can then run CONCURRENTLY without blocking readers"
	} else {
		p.Note = "no unique key is evident, so refreshes will block readers; if some columns are unique per row, add them as a unique index in materialize.yaml"
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	sf, _, err := st.readStaging()
	if err != nil {
		return StagingOutput{}, err
	}
	sf.Proposals = slices.DeleteFunc(sf.Proposals, func(q Proposal) bool { return q.Name == p.Name })
	sf.Proposals = append(sf.Proposals, p)
	if err := st.writeStaging(sf); err != nil {
		return StagingOutput{}, fmt.Errorf("write %s: %w", StagingFileName, err)
	}
	return StagingOutput{Proposed: p, Proposals: sf.Proposals}, nil
}

// describeStatement asks the server to plan (not run) the statement inside a read-only
// transaction and returns its output column names. Duplicate or unnamed columns are errors:
// a materialized view needs distinct column names.
func (st *setupTools) describeStatement(ctx context.Context, sql string) ([]string, error) {
	tx, err := st.cfg.Pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true)`, fmt.Sprint(st.cfg.Limits.StatementTimeout.Milliseconds())); err != nil {
		return nil, err
	}
	sd, err := tx.Conn().PgConn().Prepare(ctx, "", sql, nil)
	if err != nil {
		return nil, err
	}
	var cols []string
	for _, f := range sd.Fields {
		if f.Name == "?column?" {
			return nil, &ToolError{ErrorType: ErrInvalidArgument,
				Message: "an output column has no name (?column?)",
				Hint:    "give every computed column an alias: expr AS name"}
		}
		if slices.Contains(cols, f.Name) {
			return nil, &ToolError{ErrorType: ErrInvalidArgument,
				Message: fmt.Sprintf("output column %q appears twice", f.Name),
				Hint:    "alias the columns so every name is distinct"}
		}
		cols = append(cols, f.Name)
	}
	if len(cols) == 0 {
		return nil, &ToolError{ErrorType: ErrInvalidArgument, Message: "the query returns no columns", Hint: "select at least one column"}
	}
	return cols, nil
}

func (st *setupTools) primaryKey(ctx context.Context, schema, table string) []string {
	if schema == "" {
		schema = "public"
	}
	rows, err := st.cfg.Pool.Query(ctx, `SELECT a.attname
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
 WHERE n.nspname = $1 AND c.relname = $2 AND k.contype = 'p'
 ORDER BY u.ord`, schema, table)
	if err != nil {
		return nil
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil
	}
	return cols
}

// ---- finalize_config ----

// FinalizeInput is finalize_config's input.
type FinalizeInput struct {
	ApprovedNames []string `json:"approved_names" jsonschema:"description=Names of the staged proposals the user approved,minItems=1"`
}

// FinalizeOutput is finalize_config's result.
type FinalizeOutput struct {
	Added     []string `json:"added"`
	Remaining []string `json:"remaining"` // proposals still staged
	Next      string   `json:"next"`
}

func (st *setupTools) finalizeConfig(ctx context.Context, in FinalizeInput) (FinalizeOutput, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	sf, ok, err := st.readStaging()
	if err != nil {
		return FinalizeOutput{}, err
	}
	if !ok {
		return FinalizeOutput{}, &ToolError{ErrorType: ErrInvalidArgument,
			Message: "no staging file; nothing to finalize", Hint: "stage views with propose_view first"}
	}
	existing := []string{}
	if st.cfg.ViewNames != nil {
		existing = st.cfg.ViewNames()
	}
	var views []NewView
	seen := map[string]bool{}
	for _, name := range in.ApprovedNames {
		if err := boundary.ValidateName("view name", name); err != nil {
			return FinalizeOutput{}, &ToolError{ErrorType: ErrInvalidArgument, Err: err, Message: err.Error(),
				Hint: "pass the names of staged proposals"}
		}
		if seen[name] {
			return FinalizeOutput{}, NewError(ErrInvalidArgument, fmt.Sprintf("%s is listed twice", name), "list each approved name once")
		}
		seen[name] = true
		if slices.Contains(existing, name) {
			return FinalizeOutput{}, NewError(ErrInvalidArgument, fmt.Sprintf("view %s already exists in materialize.yaml", name),
				"rename the proposal with propose_view, or leave it out")
		}
		i := slices.IndexFunc(sf.Proposals, func(p Proposal) bool { return p.Name == name })
		if i < 0 {
			return FinalizeOutput{}, NewError(ErrInvalidArgument, "unknown proposal: "+name, "call propose_view first; staged names are in "+StagingFileName)
		}
		p := sf.Proposals[i]
		rel := "materialize/" + name + ".sql"
		if _, err := os.Lstat(filepath.Join(st.cfg.Root, filepath.FromSlash(rel))); err == nil {
			return FinalizeOutput{}, NewError(ErrInvalidArgument, rel+" already exists", "remove or rename it, or pick another view name")
		}
		desc := p.Rationale
		if len(desc) > 200 {
			desc = desc[:200]
			for !utf8.ValidString(desc) {
				desc = desc[:len(desc)-1]
			}
		}
		views = append(views, NewView{Name: name, SQLFile: rel, Description: desc, Indexes: p.Indexes})
	}
	if err := os.MkdirAll(filepath.Join(st.cfg.Root, "materialize"), 0o755); err != nil {
		return FinalizeOutput{}, err
	}
	var written []string
	undo := func() {
		for _, w := range written {
			os.Remove(w)
		}
	}
	for _, v := range views {
		i := slices.IndexFunc(sf.Proposals, func(p Proposal) bool { return p.Name == v.Name })
		path := filepath.Join(st.cfg.Root, filepath.FromSlash(v.SQLFile))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, err = f.WriteString(sf.Proposals[i].SQL + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			undo()
			return FinalizeOutput{}, fmt.Errorf("write %s: %w", v.SQLFile, err)
		}
		written = append(written, path)
	}
	if st.cfg.AddViews == nil {
		undo()
		return FinalizeOutput{}, NewError(ErrInternal, "this server cannot write materialize.yaml", "run the setup server from the project directory")
	}
	if err := st.cfg.AddViews(ctx, views); err != nil {
		undo()
		return FinalizeOutput{}, &ToolError{ErrorType: ErrInvalidArgument, Err: err, Message: err.Error(),
			Hint: "nothing was written; fix the problem and call finalize_config again"}
	}
	out := FinalizeOutput{Added: []string{}, Remaining: []string{},
		Next: "run `agent-mv apply` to build the new views, then `agent-mv doctor`"}
	for _, v := range views {
		out.Added = append(out.Added, v.Name)
	}
	sf.Proposals = slices.DeleteFunc(sf.Proposals, func(p Proposal) bool { return seen[p.Name] })
	for _, p := range sf.Proposals {
		out.Remaining = append(out.Remaining, p.Name)
	}
	if err := st.writeStaging(sf); err != nil {
		return out, fmt.Errorf("views added, but updating %s failed: %w", StagingFileName, err)
	}
	return out, nil
}
