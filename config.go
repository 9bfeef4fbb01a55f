package agentmv

import (
	"errors"
	"fmt"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ConfigFileName is the default name of the project file that lists the managed views.
const ConfigFileName = "materialize.yaml"

// MaxIdentifierBytes is Postgres's identifier length limit (NAMEDATALEN-1). Longer names are
// silently truncated by Postgres, so agentmv rejects them instead.
const MaxIdentifierBytes = 63

// MaxSQLFileBytes bounds the size of one view's SQL file.
const MaxSQLFileBytes = 1 << 20

// ErrConfigChanged is returned by the write-back methods when the file on disk is no longer
// the one that was loaded (someone or another apply edited it meanwhile).
var ErrConfigChanged = errors.New("the file changed on disk since it was loaded")

// MaxConfigFileBytes bounds the size of materialize.yaml (thousands of views fit easily).
const MaxConfigFileBytes = 4 << 20

// identPattern is the only accepted shape for names that become Postgres identifiers or file
// names: lower case, so Postgres never folds them and quoting never changes their meaning.
var identPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// reservedObjectNames are the relations agentmv itself keeps in the target schema (tables,
// their primary-key indexes, sequence and history index; see boundary/migrate.go); a view or
// index with one of these names would collide with them.
var reservedObjectNames = []string{
	"lineage", "column_lineage", "views", "refresh_history", "schema_version",
	"lineage_pkey", "column_lineage_pkey", "views_pkey", "refresh_history_pkey", "schema_version_pkey",
	"refresh_history_id_seq", "refresh_history_view_name_started_at_idx",
}

// Config is a loaded and validated materialize.yaml together with the SQL of every view.
//
// A Config also keeps the file's YAML node tree, so WriteSources, RemoveView and AddViews can
// edit the file in place, keeping comments, key order, flow style and quoting.
type Config struct {
	// Path is the absolute path of the YAML file; Dir is its directory.
	Path string
	Dir  string
	// Version is the file format version; always 1.
	Version int
	// TargetSchema is the schema that holds the managed views (the YAML's target_schema).
	TargetSchema string
	// Views are the configured views in file order.
	Views []ViewConfig
	// Warnings lists harmless oddities found while loading (unknown keys, which are kept in
	// the file but otherwise ignored). Callers print them once.
	Warnings []string

	display string // the path as the caller gave it, used in messages
	raw     []byte // file contents as loaded
	mode    fs.FileMode
}

// ViewConfig is one entry of the views list.
type ViewConfig struct {
	// Name is the materialized view's name inside the target schema.
	Name string
	// SQLFile is the sql_file value as written in the YAML; SQLPath is it resolved against the
	// YAML's directory; SQL is the file's contents.
	SQLFile string
	SQLPath string
	SQL     string
	// Description is the human text shown to agents and on the dashboard.
	Description string
	// Indexes are the indexes created on the view (a unique one allows concurrent refresh).
	Indexes []IndexConfig
	// Sources is the lineage recorded by the last apply (owned by apply; see WriteSources).
	Sources []string
	// MinRefreshInterval, when set, is the shortest time between two refreshes of the view.
	MinRefreshInterval time.Duration
	// MaxStaleness, when set, is how old the view's data may get before it counts as stale.
	MaxStaleness time.Duration
	// Line is the view's line in the YAML file.
	Line int
}

// IndexConfig is one entry of a view's indexes list.
type IndexConfig struct {
	Columns []string
	Unique  bool
}

// Name returns the index name agentmv uses on view: <view>_<col1>_<col2>…_idx (the seed's naming).
func (ix IndexConfig) Name(view string) string {
	return view + "_" + strings.Join(ix.Columns, "_") + "_idx"
}

// View returns the view with the given name.
func (c *Config) View(name string) (ViewConfig, bool) {
	for _, v := range c.Views {
		if v.Name == name {
			return v, true
		}
	}
	return ViewConfig{}, false
}

// Problem is one validation failure, at a line of the YAML file when Line > 0.
type Problem struct {
	Line    int
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return p.Message
}

// ConfigError is returned by LoadConfig for a file that cannot be used. Its text keeps the
// seed's prefixes (`invalid config <path>`, `unsupported version in <path>`, …).
type ConfigError struct {
	// Path is the config path as given to LoadConfig.
	Path string
	// Problems are the individual failures (may be empty when Err says it all).
	Problems []Problem
	msg      string
	err      error
}

func (e *ConfigError) Error() string { return e.msg }

// Unwrap returns the underlying error (a *yaml.TypeError, a fs error, …), if any.
func (e *ConfigError) Unwrap() error { return e.err }

func problemsError(path, prefix string, probs []Problem) *ConfigError {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(" ")
	b.WriteString(path)
	b.WriteString(":")
	if len(probs) == 1 {
		b.WriteString(" ")
		b.WriteString(probs[0].String())
	} else {
		for _, p := range probs {
			b.WriteString("\n  ")
			b.WriteString(p.String())
		}
	}
	return &ConfigError{Path: path, Problems: probs, msg: b.String()}
}

// ValidateIdentifier checks that name is usable as a Postgres identifier or file name for
// agentmv: it matches ^[a-z_][a-z0-9_]*$ and is at most 63 bytes. kind names the thing in
// the error ("view name", "target_schema", …).
func ValidateIdentifier(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s must not be empty", kind)
	case len(name) > MaxIdentifierBytes:
		return fmt.Errorf("%s %q is %d bytes; Postgres identifiers are at most %d bytes (it would silently truncate it), use a shorter name",
			kind, name, len(name), MaxIdentifierBytes)
	case !identPattern.MatchString(name):
		return fmt.Errorf("%s %q must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits and _, not starting with a digit)", kind, name)
	}
	return nil
}

// validateViewName adds the view-specific rules to ValidateIdentifier.
func validateViewName(name string) error {
	if err := ValidateIdentifier("view name", name); err != nil {
		return err
	}
	if strings.HasPrefix(name, "pg_") {
		return fmt.Errorf("view name %q must not start with pg_ (pg_catalog comes first on the search path, so agents would read a system catalog instead)", name)
	}
	if slices.Contains(reservedObjectNames, name) {
		return fmt.Errorf("view name %q is reserved: agentmv keeps its own table of that name in the target schema", name)
	}
	if isReservedKeyword(name) {
		return fmt.Errorf("view name %q is an SQL reserved word: agents would have to quote it in every query; choose another name", name)
	}
	return nil
}

// isReservedKeyword asks Postgres' own scanner whether name is a reserved keyword (one that
// cannot be used as an unquoted table name).
func isReservedKeyword(name string) bool {
	res, err := pg_query.Scan(name)
	if err != nil || len(res.Tokens) != 1 {
		return false
	}
	k := res.Tokens[0].KeywordKind
	return k == pg_query.KeywordKind_RESERVED_KEYWORD || k == pg_query.KeywordKind_TYPE_FUNC_NAME_KEYWORD
}

// readCapped reads at most limit+1 bytes of a file, so an oversized file is detected without
// reading it whole.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// LoadConfig reads and validates the materialize.yaml at path and reads each view's SQL file.
//
// A missing file gives an error wrapping fs.ErrNotExist that says to run `agent-mv init`.
// Other failures are *ConfigError values whose text starts like the seed's
// (`failed to parse`, `unsupported version in`, `duplicate view names in`, `invalid config`,
// `sql_file not found for view`) and carries YAML line numbers.
func LoadConfig(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve config path %s: %w", path, err)
	}
	raw, err := readCapped(abs, MaxConfigFileBytes)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &ConfigError{Path: path, err: err,
				msg: fmt.Sprintf("%s not found at %s. Run `agent-mv init` first.", filepath.Base(abs), abs)}
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(raw) > MaxConfigFileBytes {
		return nil, &ConfigError{Path: path, msg: fmt.Sprintf("invalid config %s: the file is larger than %d bytes (4 MiB); keep view SQL in sql_file files and check that this is the right file", path, MaxConfigFileBytes)}
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	cfg, err := parseConfig(path, abs, raw)
	if err != nil {
		return nil, err
	}
	cfg.mode = st.Mode().Perm()
	return cfg, nil
}

// parseDocument parses raw as exactly one YAML document and returns the document node.
func parseDocument(path string, raw []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ConfigError{Path: path, err: err, msg: fmt.Sprintf("failed to parse %s: %v", path, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ConfigError{Path: path, msg: fmt.Sprintf("failed to parse %s: line %d: a second YAML document starts here; keep one document per file", path, extra.Line)}
	} else if !errors.Is(err, io.EOF) {
		return nil, &ConfigError{Path: path, err: err, msg: fmt.Sprintf("failed to parse %s: %v", path, err)}
	}
	return &doc, nil
}

// parseConfig validates raw (the contents of the file at abs) and reads the SQL files.
func parseConfig(display, abs string, raw []byte) (*Config, error) {
	doc, err := parseDocument(display, raw)
	if err != nil {
		return nil, err
	}
	cfg := &Config{Path: abs, Dir: filepath.Dir(abs), display: display, raw: raw, mode: 0o644}
	v := validator{cfg: cfg}
	v.document(doc)
	switch {
	case len(v.version) > 0:
		return nil, problemsError(display, "unsupported version in", v.version)
	case len(v.duplicates) > 0:
		return nil, problemsError(display, "duplicate view names in", v.duplicates)
	case len(v.invalid) > 0:
		return nil, problemsError(display, "invalid config", v.invalid)
	}
	for i := range cfg.Views {
		if err := cfg.readSQL(&cfg.Views[i]); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// readSQL resolves and reads one view's SQL file.
func (c *Config) readSQL(v *ViewConfig) error {
	p := v.SQLFile
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.Dir, p)
	}
	v.SQLPath = p
	where := fmt.Sprintf("(%s line %d)", c.display, v.Line)
	invalid := func(reason string, err error) error {
		return &ConfigError{Path: c.display, err: err, Problems: []Problem{{Line: v.Line, Message: reason}},
			msg: fmt.Sprintf("invalid sql_file for view '%s': %s: %s %s", v.Name, p, reason, where)}
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &ConfigError{Path: c.display, err: err, Problems: []Problem{{Line: v.Line, Message: "sql_file not found"}},
				msg: fmt.Sprintf("sql_file not found for view '%s': %s %s; create the file or fix sql_file (paths are relative to the YAML file)", v.Name, p, where)}
		}
		return invalid("cannot open it: "+err.Error(), err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return invalid("is a directory, not a SQL file", nil)
	}
	body, err := io.ReadAll(io.LimitReader(f, MaxSQLFileBytes+1))
	if err != nil {
		return invalid("cannot read it: "+err.Error(), err)
	}
	switch {
	case len(body) > MaxSQLFileBytes:
		return invalid(fmt.Sprintf("larger than %d bytes (1 MiB); a view body should be one SELECT", MaxSQLFileBytes), nil)
	case !utf8.Valid(body):
		return invalid("not valid UTF-8; save it as UTF-8", nil)
	case strings.IndexByte(string(body), 0) >= 0:
		return invalid("contains a NUL byte, which Postgres does not accept in SQL text", nil)
	case sqlIsBlank(string(body)):
		return invalid("has no SQL, only comments and whitespace; put the view's SELECT in it", nil)
	}
	v.SQL = string(body)
	return nil
}

// sqlIsBlank reports whether sql has nothing but whitespace, semicolons, `--` comments and
// (nested) `/* */` comments.
func sqlIsBlank(sql string) bool {
	for i := 0; i < len(sql); {
		switch {
		case sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r' || sql[i] == '\f' || sql[i] == ';':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			nl := strings.IndexByte(sql[i:], '\n')
			if nl < 0 {
				return true
			}
			i += nl + 1
		case strings.HasPrefix(sql[i:], "/*"):
			depth := 0
			for i < len(sql) {
				if strings.HasPrefix(sql[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(sql[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		default:
			return false
		}
	}
	return true
}

// validator walks the YAML node tree, fills the Config and collects problems by class.
type validator struct {
	cfg        *Config
	version    []Problem
	duplicates []Problem
	invalid    []Problem
}

func (v *validator) bad(line int, format string, args ...any) {
	v.invalid = append(v.invalid, Problem{Line: line, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) warn(line int, format string, args ...any) {
	v.cfg.Warnings = append(v.cfg.Warnings, fmt.Sprintf("%s line %d: %s", v.cfg.display, line, fmt.Sprintf(format, args...)))
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// pairs returns a mapping's key/value pairs, reporting duplicate keys.
func (v *validator) pairs(m *yaml.Node, where string) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, val := m.Content[i], resolveAlias(m.Content[i+1])
		if first, dup := seen[k.Value]; dup {
			v.bad(k.Line, "key %q appears twice in %s (first at line %d)", k.Value, where, first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, [2]*yaml.Node{k, val})
	}
	return out
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "null"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%s %q", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
	}
}

// str returns n's value when it is a string scalar.
func (v *validator) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		v.bad(n.Line, "%s must be a string, got %s (quote it if it looks like a number or boolean)", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (v *validator) document(doc *yaml.Node) {
	if doc.Kind == 0 || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		v.bad(1, "the file is empty; it needs `version: 1`, `target_schema` and `views` (run `agent-mv init` for a template)")
		return
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		v.bad(root.Line, "the top level must be a mapping with version, target_schema and views, got %s", kindName(root))
		return
	}
	var haveVersion, haveSchema, haveViews bool
	for _, kv := range v.pairs(root, "the top level") {
		k, val := kv[0], kv[1]
		switch k.Value {
		case "version":
			haveVersion = true
			v.versionValue(val)
		case "target_schema":
			haveSchema = true
			if s, ok := v.str(val, "target_schema"); ok {
				if err := validateSchemaName(s); err != nil {
					v.bad(val.Line, "%v", err)
				}
				v.cfg.TargetSchema = s
			}
		case "views":
			haveViews = true
			v.views(val)
		default:
			v.warn(k.Line, "unknown key %q at the top level is ignored (kept in the file)", k.Value)
		}
	}
	if !haveVersion {
		v.version = append(v.version, Problem{Line: root.Line, Message: "version is required and must be 1 (add `version: 1`)"})
	}
	if !haveSchema {
		v.bad(root.Line, "target_schema is required (add `target_schema: agent_mv`)")
	}
	if !haveViews {
		v.bad(root.Line, "views is required (use `views: []` for none)")
	}
	v.indexNames()
}

func (v *validator) versionValue(n *yaml.Node) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		v.version = append(v.version, Problem{Line: n.Line, Message: fmt.Sprintf("version must be the integer 1, got %s", kindName(n))})
		return
	}
	var ver int
	if err := n.Decode(&ver); err != nil || ver != 1 {
		v.version = append(v.version, Problem{Line: n.Line, Message: fmt.Sprintf("version must be 1, got %s; this agentmv reads version 1 files only", n.Value)})
		return
	}
	v.cfg.Version = ver
}

func validateSchemaName(s string) error {
	if err := ValidateIdentifier("target_schema", s); err != nil {
		return err
	}
	if strings.HasPrefix(s, "pg_") || s == "information_schema" || s == "public" {
		return fmt.Errorf("target_schema %q is not allowed: use a dedicated schema such as agent_mv (pg_* schemas are reserved by Postgres)", s)
	}
	return nil
}

func (v *validator) views(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		v.bad(n.Line, "views must be a list of views, got %s (use `views: []` for none)", kindName(n))
		return
	}
	firstLine := map[string]int{}
	for i, item := range n.Content {
		item = resolveAlias(item)
		if item.Kind != yaml.MappingNode {
			v.bad(item.Line, "views[%d] must be a mapping with name, sql_file and description, got %s", i, kindName(item))
			continue
		}
		vc, ok := v.view(item, i)
		if !ok {
			continue
		}
		if first, dup := firstLine[vc.Name]; dup {
			v.duplicates = append(v.duplicates, Problem{Line: vc.Line, Message: fmt.Sprintf("view %q is already defined at line %d; view names must be unique", vc.Name, first)})
			continue
		}
		firstLine[vc.Name] = vc.Line
		v.cfg.Views = append(v.cfg.Views, vc)
	}
}

func (v *validator) view(m *yaml.Node, idx int) (ViewConfig, bool) {
	vc := ViewConfig{Line: m.Line}
	label := fmt.Sprintf("views[%d]", idx)
	// Find the name first so later messages can name the view.
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "name" {
			if n := resolveAlias(m.Content[i+1]); n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value != "" {
				label = fmt.Sprintf("view %q", n.Value)
			}
			break
		}
	}
	before := len(v.invalid)
	var haveName, haveFile, haveDesc bool
	for _, kv := range v.pairs(m, label) {
		k, val := kv[0], kv[1]
		switch k.Value {
		case "name":
			haveName = true
			if s, ok := v.str(val, label+": name"); ok {
				if err := validateViewName(s); err != nil {
					v.bad(val.Line, "%v", err)
				}
				vc.Name = s
			}
		case "sql_file":
			haveFile = true
			if s, ok := v.str(val, label+": sql_file"); ok {
				if strings.TrimSpace(s) == "" {
					v.bad(val.Line, "%s: sql_file must not be empty", label)
				}
				vc.SQLFile = s
			}
		case "description":
			haveDesc = true
			if s, ok := v.str(val, label+": description"); ok {
				vc.Description = s
				if strings.TrimSpace(s) == "" {
					v.bad(val.Line, "%s: description is empty; say in a sentence what one row is and when an agent should read this view", label)
				}
			}
		case "indexes":
			vc.Indexes = v.indexes(val, label)
		case "sources":
			vc.Sources = v.sources(val, label)
		case "sql":
			// Accepted for compatibility with the seed; the SQL always comes from sql_file.
		case "min_refresh_interval":
			vc.MinRefreshInterval = v.duration(val, label+": min_refresh_interval")
		case "max_staleness":
			vc.MaxStaleness = v.duration(val, label+": max_staleness")
		default:
			v.warn(k.Line, "unknown key %q in %s is ignored (kept in the file)", k.Value, label)
		}
	}
	if !haveName {
		v.bad(m.Line, "%s: name is required", label)
	}
	if !haveFile {
		v.bad(m.Line, "%s: sql_file is required (e.g. materialize/<name>.sql)", label)
	}
	if !haveDesc {
		v.bad(m.Line, "%s: description is required (agents read it to pick the view)", label)
	}
	if vc.MinRefreshInterval > 0 && vc.MaxStaleness > 0 && vc.MaxStaleness < vc.MinRefreshInterval {
		v.bad(m.Line, "%s: max_staleness (%s) is shorter than min_refresh_interval (%s), so the view could never be fresh", label, vc.MaxStaleness, vc.MinRefreshInterval)
	}
	return vc, len(v.invalid) == before
}

func (v *validator) duration(n *yaml.Node, what string) time.Duration {
	s, ok := v.str(n, what)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		v.bad(n.Line, "%s must be a positive Go duration such as \"90s\", \"5m\" or \"1h30m\", got %q", what, s)
		return 0
	}
	return d
}

func (v *validator) sources(n *yaml.Node, label string) []string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		v.bad(n.Line, "%s: sources must be a list of strings, got %s (apply owns this key; delete it and re-run apply)", label, kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, it := range n.Content {
		if s, ok := v.str(resolveAlias(it), label+": sources entry"); ok {
			out = append(out, s)
		}
	}
	return out
}

func (v *validator) indexes(n *yaml.Node, label string) []IndexConfig {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		v.bad(n.Line, "%s: indexes must be a list of {columns: [...], unique: bool}, got %s", label, kindName(n))
		return nil
	}
	var out []IndexConfig
	for i, it := range n.Content {
		it = resolveAlias(it)
		where := fmt.Sprintf("%s: indexes[%d]", label, i)
		if it.Kind != yaml.MappingNode {
			v.bad(it.Line, "%s must be a mapping with columns and unique, got %s", where, kindName(it))
			continue
		}
		var ix IndexConfig
		haveCols := false
		for _, kv := range v.pairs(it, where) {
			k, val := kv[0], kv[1]
			switch k.Value {
			case "columns":
				haveCols = true
				ix.Columns = v.columns(val, where)
			case "unique":
				if val.Kind != yaml.ScalarNode || val.ShortTag() != "!!bool" {
					v.bad(val.Line, "%s: unique must be true or false, got %s", where, kindName(val))
					continue
				}
				_ = val.Decode(&ix.Unique)
			default:
				v.warn(k.Line, "unknown key %q in %s is ignored (kept in the file)", k.Value, where)
			}
		}
		if !haveCols {
			v.bad(it.Line, "%s: columns is required (a list of at least one column)", where)
			continue
		}
		out = append(out, ix)
	}
	return out
}

func (v *validator) columns(n *yaml.Node, where string) []string {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		v.bad(n.Line, "%s: columns must be a list of at least one column name, got %s", where, kindName(n))
		return nil
	}
	var cols []string
	seen := map[string]bool{}
	for _, c := range n.Content {
		c = resolveAlias(c)
		s, ok := v.str(c, where+": column")
		if !ok {
			continue
		}
		if err := ValidateIdentifier("index column", s); err != nil {
			v.bad(c.Line, "%s: %v", where, err)
			continue
		}
		if seen[s] {
			v.bad(c.Line, "%s: column %q is listed twice", where, s)
			continue
		}
		seen[s] = true
		cols = append(cols, s)
	}
	return cols
}

// indexNames checks the derived index names: Postgres would truncate names over 63 bytes, and
// indexes share one namespace with the views (and with each other) inside the schema.
func (v *validator) indexNames() {
	type owner struct {
		what string
		line int
	}
	taken := map[string]owner{}
	for _, vc := range v.cfg.Views {
		taken[vc.Name] = owner{fmt.Sprintf("view %q", vc.Name), vc.Line}
	}
	for _, vc := range v.cfg.Views {
		for i, ix := range vc.Indexes {
			if len(ix.Columns) == 0 {
				continue
			}
			name := ix.Name(vc.Name)
			where := fmt.Sprintf("view %q: indexes[%d]", vc.Name, i)
			if len(name) > MaxIdentifierBytes {
				v.bad(vc.Line, "%s: index name %q is %d bytes; Postgres truncates names to %d bytes, so use fewer or shorter columns or a shorter view name",
					where, name, len(name), MaxIdentifierBytes)
				continue
			}
			if slices.Contains(reservedObjectNames, name) {
				v.bad(vc.Line, "%s: index name %q collides with agentmv's own object of that name", where, name)
				continue
			}
			if o, dup := taken[name]; dup {
				v.bad(vc.Line, "%s: index name %q collides with %s (line %d); indexes and views share the schema's namespace",
					where, name, o.what, o.line)
				continue
			}
			taken[name] = owner{fmt.Sprintf("index %q of view %q", name, vc.Name), vc.Line}
		}
	}
}

// ---- write-back -------------------------------------------------------------------------
//
// Every write re-parses the loaded bytes, edits the yaml.v3 node tree, and then produces the
// new file text by splicing only the changed regions into the original bytes, so everything
// else (comments, blank lines, indentation, key order, flow style, quoting) stays byte for
// byte. The spliced text is re-parsed and must decode to exactly the edited tree; if it does
// not (an unusual layout such as a flow-style view), the edited tree is encoded with yaml.v3
// instead, which still keeps comments, key order, flow style and quoting. The result must load
// as a valid config before the file is replaced atomically.

// WriteSources sets each named view's sources list to the sorted, de-duplicated names in
// sources, in one atomic write. Views not in the map are untouched; a missing sources key and
// an empty list count as equal. If nothing changes, the file is not written.
func (c *Config) WriteSources(sources map[string][]string) error {
	doc, err := parseDocument(c.display, c.raw)
	if err != nil {
		return err
	}
	_, items, err := c.viewNodes(doc)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(sources))
	for name := range sources {
		if _, ok := items[name]; !ok {
			return fmt.Errorf("write sources: view %q is not in %s; reload the config and retry", name, c.display)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	t := newTextIndex(c.raw)
	dashOffset := t.inferDashOffset(items)
	var edits []textEdit
	textOK, changed := true, false
	for _, name := range names {
		want := slices.Clone(sources[name])
		slices.Sort(want)
		want = slices.Compact(want)
		m := items[name]
		ki := mappingKey(m, "sources")
		if ki < 0 && len(want) == 0 {
			continue
		}
		var itemStyle yaml.Style
		flow := len(want) == 0
		if ki >= 0 {
			cur := resolveAlias(m.Content[ki+1])
			if (cur.Kind == yaml.SequenceNode && slices.Equal(scalarValues(cur), want)) || (isNull(cur) && len(want) == 0) {
				continue
			}
			if cur.Kind == yaml.SequenceNode {
				flow = flow || cur.Style&yaml.FlowStyle != 0
				if len(cur.Content) > 0 {
					itemStyle = cur.Content[0].Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
				}
			}
		}
		changed = true
		if textOK {
			e, ok := t.sourcesEdit(m, ki, want, itemStyle, dashOffset)
			if ok {
				edits = append(edits, e)
			} else {
				textOK = false
			}
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if flow {
			seq.Style = yaml.FlowStyle
		}
		for _, s := range want {
			seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: itemStyle})
		}
		if ki >= 0 {
			old := m.Content[ki+1]
			seq.HeadComment, seq.LineComment, seq.FootComment = old.HeadComment, old.LineComment, old.FootComment
			m.Content[ki+1] = seq
		} else {
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "sources"}, seq)
		}
	}
	if !changed {
		return nil
	}
	return c.commit(doc, edits, textOK)
}

// RemoveView deletes the named view's entry from the file (one atomic write). It does not
// touch the database or the view's SQL file.
func (c *Config) RemoveView(name string) error {
	doc, err := parseDocument(c.display, c.raw)
	if err != nil {
		return err
	}
	seq, items, err := c.viewNodes(doc)
	if err != nil {
		return err
	}
	m, ok := items[name]
	if !ok {
		return fmt.Errorf("remove view: view %q is not in %s", name, c.display)
	}
	i := slices.IndexFunc(seq.Content, func(n *yaml.Node) bool { return n == m })
	t := newTextIndex(c.raw)
	e, textOK := t.removeItemEdit(doc, seq, i)
	seq.Content = slices.Delete(seq.Content, i, i+1)
	if len(seq.Content) == 0 {
		seq.Style = yaml.FlowStyle
	}
	return c.commit(doc, []textEdit{e}, textOK)
}

// AddViews appends views to the file (one atomic write), as setup's finalize step does. Each
// view needs Name, SQLFile (relative to the YAML's directory; the file must already exist) and
// Description; Indexes, MinRefreshInterval, MaxStaleness and Sources are written when set.
// The result must load as a valid config, or nothing is written.
func (c *Config) AddViews(views ...ViewConfig) error {
	if len(views) == 0 {
		return nil
	}
	doc, err := parseDocument(c.display, c.raw)
	if err != nil {
		return err
	}
	seq, items, err := c.viewNodes(doc)
	if err != nil {
		return err
	}
	newItems := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, v := range views {
		if err := validateViewName(v.Name); err != nil {
			return fmt.Errorf("add view: %w", err)
		}
		if _, dup := items[v.Name]; dup {
			return fmt.Errorf("add view: view %q already exists in %s; pick another name or remove the old view first", v.Name, c.display)
		}
		items[v.Name] = nil
		newItems.Content = append(newItems.Content, viewNode(v))
	}
	t := newTextIndex(c.raw)
	e, textOK := t.appendItemsEdit(doc, seq, newItems)
	seq.Content = append(seq.Content, newItems.Content...)
	seq.Style &^= yaml.FlowStyle
	return c.commit(doc, []textEdit{e}, textOK)
}

func strNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func viewNode(v ViewConfig) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, val *yaml.Node) { m.Content = append(m.Content, strNode(k), val) }
	add("name", strNode(v.Name))
	add("sql_file", strNode(v.SQLFile))
	add("description", strNode(v.Description))
	if len(v.Indexes) > 0 {
		ixs := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, ix := range v.Indexes {
			cols := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
			for _, col := range ix.Columns {
				cols.Content = append(cols.Content, strNode(col))
			}
			im := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			im.Content = append(im.Content, strNode("columns"), cols,
				strNode("unique"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(ix.Unique)})
			ixs.Content = append(ixs.Content, im)
		}
		add("indexes", ixs)
	}
	if v.MinRefreshInterval > 0 {
		add("min_refresh_interval", strNode(FormatDuration(v.MinRefreshInterval)))
	}
	if v.MaxStaleness > 0 {
		add("max_staleness", strNode(FormatDuration(v.MaxStaleness)))
	}
	if len(v.Sources) > 0 {
		src := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		s := slices.Clone(v.Sources)
		slices.Sort(s)
		for _, x := range slices.Compact(s) {
			src.Content = append(src.Content, strNode(x))
		}
		add("sources", src)
	}
	return m
}

// FormatDuration writes d the short way people write it in YAML ("5m", "1h30m", "90s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// viewNodes returns the views sequence and each named view's mapping node.
func (c *Config) viewNodes(doc *yaml.Node) (*yaml.Node, map[string]*yaml.Node, error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil, fmt.Errorf("%s has no YAML document; reload it", c.display)
	}
	root := doc.Content[0]
	ki := mappingKey(root, "views")
	if ki < 0 || root.Content[ki+1].Kind != yaml.SequenceNode {
		return nil, nil, fmt.Errorf("%s has no views list; reload it", c.display)
	}
	seq := root.Content[ki+1]
	items := map[string]*yaml.Node{}
	for _, it := range seq.Content {
		if it.Kind != yaml.MappingNode {
			continue
		}
		if ni := mappingKey(it, "name"); ni >= 0 {
			items[it.Content[ni+1].Value] = it
		}
	}
	return seq, items, nil
}

func mappingKey(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func scalarValues(seq *yaml.Node) []string {
	out := make([]string, 0, len(seq.Content))
	for _, n := range seq.Content {
		out = append(out, resolveAlias(n).Value)
	}
	return out
}

// commit turns the edited tree into file bytes, checks them, and replaces the file.
func (c *Config) commit(doc *yaml.Node, edits []textEdit, textOK bool) error {
	var want any
	if err := doc.Decode(&want); err != nil {
		return fmt.Errorf("write %s: decode edited tree: %w", c.display, err)
	}
	var out []byte
	if textOK {
		if spliced, ok := applyEdits(c.raw, edits); ok && decodesTo(spliced, want) {
			out = spliced
		}
	}
	if out == nil {
		var buf strings.Builder
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("write %s: encode: %w", c.display, err)
		}
		if err := enc.Close(); err != nil {
			return fmt.Errorf("write %s: encode: %w", c.display, err)
		}
		out = []byte(buf.String())
		if !decodesTo(out, want) {
			return fmt.Errorf("write %s: re-encoded YAML does not round-trip; file left unchanged (please report this)", c.display)
		}
	}
	next, err := parseConfig(c.display, c.Path, out)
	if err != nil {
		return fmt.Errorf("write %s: the edited file would not load, so it was left unchanged: %w", c.display, err)
	}
	onDisk, err := os.ReadFile(c.Path)
	if err != nil {
		return fmt.Errorf("write %s: %w", c.display, err)
	}
	if string(onDisk) != string(c.raw) {
		return fmt.Errorf("write %s: %w; nothing written, reload it and retry", c.display, ErrConfigChanged)
	}
	if err := writeFileAtomic(c.Path, out, c.mode); err != nil {
		return fmt.Errorf("write %s: %w", c.display, err)
	}
	next.mode = c.mode
	*c = *next
	return nil
}

func decodesTo(src []byte, want any) bool {
	var got any
	if err := yaml.Unmarshal(src, &got); err != nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}

// writeFileAtomic replaces path (following a symlink to its target) with data: temp file in
// the same directory, fsync, keep the mode, rename, fsync the directory.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	if target, e := filepath.EvalSymlinks(path); e == nil {
		path = target
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, e := os.Open(dir); e == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ---- text splicing ----------------------------------------------------------------------

type textEdit struct {
	start, end int
	text       string
}

// applyEdits applies non-overlapping edits to src.
func applyEdits(src []byte, edits []textEdit) ([]byte, bool) {
	edits = slices.Clone(edits)
	slices.SortFunc(edits, func(a, b textEdit) int { return b.start - a.start })
	out := string(src)
	prev := len(src) + 1
	for _, e := range edits {
		if e.start < 0 || e.end < e.start || e.end > len(src) || e.end > prev {
			return nil, false
		}
		out = out[:e.start] + e.text + out[e.end:]
		prev = e.start
	}
	return []byte(out), true
}

// textIndex maps yaml.v3 marks (1-based lines; 1-based columns counting runes) to byte offsets.
type textIndex struct {
	src   []byte
	lines []int
}

func newTextIndex(src []byte) textIndex {
	t := textIndex{src: src, lines: []int{0}}
	for i, b := range src {
		if b == '\n' {
			t.lines = append(t.lines, i+1)
		}
	}
	return t
}

func (t textIndex) offset(n *yaml.Node) (int, bool) {
	if n.Line < 1 || n.Line > len(t.lines) {
		return 0, false
	}
	off := t.lines[n.Line-1]
	for c := 1; c < n.Column; c++ {
		if off >= len(t.src) || t.src[off] == '\n' {
			return 0, false
		}
		_, w := utf8.DecodeRune(t.src[off:])
		off += w
	}
	return off, true
}

func (t textIndex) lineEnd(off int) int {
	for off < len(t.src) && t.src[off] != '\n' {
		off++
	}
	return off
}

func (t textIndex) lineStart(off int) int {
	for off > 0 && t.src[off-1] != '\n' {
		off--
	}
	return off
}

// end returns the offset just past n's text, for the layouts this file understands.
func (t textIndex) end(n *yaml.Node) (int, bool) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 {
		return 0, false
	}
	start, ok := t.offset(n)
	if !ok {
		return 0, false
	}
	switch {
	case n.Kind == yaml.ScalarNode:
		switch {
		case n.Style&yaml.DoubleQuotedStyle != 0:
			for i := start + 1; i < len(t.src); i++ {
				switch t.src[i] {
				case '\\':
					i++
				case '"':
					return i + 1, true
				}
			}
			return 0, false
		case n.Style&yaml.SingleQuotedStyle != 0:
			for i := start + 1; i < len(t.src); i++ {
				if t.src[i] == '\'' {
					if i+1 < len(t.src) && t.src[i+1] == '\'' {
						i++
						continue
					}
					return i + 1, true
				}
			}
			return 0, false
		case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			return t.blockScalarEnd(start)
		default:
			if n.Value == "" || strings.ContainsAny(n.Value, "\n") || !strings.HasPrefix(string(t.src[start:]), n.Value) {
				return 0, false
			}
			return start + len(n.Value), true
		}
	case n.Style&yaml.FlowStyle != 0:
		return t.matchBracket(start)
	case len(n.Content) == 0:
		return 0, false
	default:
		return t.end(n.Content[len(n.Content)-1])
	}
}

// blockScalarEnd returns the offset after the last non-blank line of the literal or folded
// scalar whose header ("|", ">-", …) starts at start.
func (t textIndex) blockScalarEnd(start int) (int, bool) {
	headerEnd := t.lineEnd(start)
	header := string(t.src[start:headerEnd])
	if i := strings.Index(header, " #"); i >= 0 {
		header = header[:i]
	}
	if strings.ContainsAny(strings.TrimSpace(header), "+123456789") {
		return 0, false
	}
	end, contentIndent := headerEnd, -1
	for pos := headerEnd + 1; pos < len(t.src); {
		le := t.lineEnd(pos)
		line := string(t.src[pos:le])
		if strings.TrimSpace(line) != "" {
			indent := len(line) - len(strings.TrimLeft(line, " "))
			if contentIndent < 0 {
				contentIndent = indent
			}
			if indent < contentIndent || indent == 0 {
				break
			}
			end = le
		}
		pos = le + 1
	}
	return end, contentIndent > 0
}

// matchBracket returns the offset after the bracket that closes the one at start.
func (t textIndex) matchBracket(start int) (int, bool) {
	if start >= len(t.src) || (t.src[start] != '[' && t.src[start] != '{') {
		return 0, false
	}
	depth := 0
	for i := start; i < len(t.src); i++ {
		switch t.src[i] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case '"':
			for i++; i < len(t.src) && t.src[i] != '"'; i++ {
				if t.src[i] == '\\' {
					i++
				}
			}
		case '\'':
			for i++; i < len(t.src); i++ {
				if t.src[i] == '\'' {
					if i+1 < len(t.src) && t.src[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case '#':
			return 0, false
		}
	}
	return 0, false
}

// colonAfter returns the offset of the ':' that follows mapping key k.
func (t textIndex) colonAfter(k *yaml.Node) (int, bool) {
	e, ok := t.end(k)
	if !ok {
		return 0, false
	}
	for e < len(t.src) && (t.src[e] == ' ' || t.src[e] == '\t') {
		e++
	}
	if e >= len(t.src) || t.src[e] != ':' {
		return 0, false
	}
	return e, true
}

// dash returns the offset of the "- " that introduces block sequence item n and the
// whitespace before it on its line.
func (t textIndex) dash(n *yaml.Node) (int, string, bool) {
	off, ok := t.offset(n)
	if !ok {
		return 0, "", false
	}
	i := off - 1
	for i >= 0 && t.src[i] == ' ' {
		i--
	}
	if i < 0 || t.src[i] != '-' {
		return 0, "", false
	}
	ls := t.lineStart(i)
	indent := string(t.src[ls:i])
	if strings.Trim(indent, " ") != "" {
		return 0, "", false
	}
	return i, indent, true
}

// inferDashOffset returns how far this file indents a block list's "-" past its key.
func (t textIndex) inferDashOffset(items map[string]*yaml.Node) int {
	names := make([]string, 0, len(items))
	for name := range items {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m := items[name]
		for _, key := range []string{"sources", "indexes"} {
			ki := mappingKey(m, key)
			if ki < 0 {
				continue
			}
			val := m.Content[ki+1]
			if val.Kind != yaml.SequenceNode || val.Style&yaml.FlowStyle != 0 || len(val.Content) == 0 {
				continue
			}
			if _, indent, ok := t.dash(val.Content[0]); ok && len(indent) >= m.Content[ki].Column-1 {
				return len(indent) - (m.Content[ki].Column - 1)
			}
		}
	}
	return 2
}

func renderScalar(s string, style yaml.Style, flow bool) string {
	b, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: style})
	out := strings.TrimSuffix(string(b), "\n")
	if err != nil || strings.Contains(out, "\n") || (flow && style == 0 && strings.ContainsAny(out, ",[]{}#")) {
		return strconv.Quote(s)
	}
	return out
}

func renderFlow(vals []string, style yaml.Style) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = renderScalar(v, style, true)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func renderBlock(vals []string, indent string, style yaml.Style) string {
	var b strings.Builder
	for _, v := range vals {
		b.WriteString("\n" + indent + "- " + renderScalar(v, style, false))
	}
	return b.String()
}

// sourcesEdit computes the text edit that makes view mapping m's sources equal want.
func (t textIndex) sourcesEdit(m *yaml.Node, ki int, want []string, style yaml.Style, dashOffset int) (textEdit, bool) {
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) == 0 {
		return textEdit{}, false
	}
	keyIndent := strings.Repeat(" ", m.Content[0].Column-1)
	if ki < 0 {
		e, ok := t.end(m)
		if !ok {
			return textEdit{}, false
		}
		at := t.lineEnd(e)
		return textEdit{at, at, "\n" + keyIndent + "sources:" + renderBlock(want, keyIndent+strings.Repeat(" ", dashOffset), style)}, true
	}
	key, val := m.Content[ki], m.Content[ki+1]
	colon, ok := t.colonAfter(key)
	if !ok {
		return textEdit{}, false
	}
	switch {
	case val.Kind == yaml.SequenceNode && val.Style&yaml.FlowStyle != 0:
		start, ok := t.offset(val)
		if !ok {
			return textEdit{}, false
		}
		end, ok := t.matchBracket(start)
		if !ok {
			return textEdit{}, false
		}
		return textEdit{start, end, renderFlow(want, style)}, true
	case val.Kind == yaml.SequenceNode:
		_, indent, ok := t.dash(val.Content[0])
		if !ok {
			return textEdit{}, false
		}
		end, ok := t.end(val)
		if !ok {
			return textEdit{}, false
		}
		if len(want) == 0 {
			return textEdit{colon + 1, end, " []"}, true
		}
		return textEdit{t.lineEnd(colon), end, renderBlock(want, indent, style)}, true
	case isNull(val) && val.Value == "":
		if len(want) == 0 {
			return textEdit{colon + 1, colon + 1, " []"}, true
		}
		at := t.lineEnd(colon)
		return textEdit{at, at, renderBlock(want, keyIndent+strings.Repeat(" ", dashOffset), style)}, true
	case isNull(val):
		start, ok := t.offset(val)
		if !ok || !strings.HasPrefix(string(t.src[start:]), val.Value) {
			return textEdit{}, false
		}
		return textEdit{start, start + len(val.Value), renderFlow(want, style)}, true
	}
	return textEdit{}, false
}

// itemStart returns where block sequence item n's text begins, including the comment lines
// directly above its dash.
func (t textIndex) itemStart(n *yaml.Node) (int, bool) {
	d, _, ok := t.dash(n)
	if !ok {
		return 0, false
	}
	start := t.lineStart(d)
	for start > 0 {
		prev := t.lineStart(start - 1)
		if !strings.HasPrefix(strings.TrimSpace(string(t.src[prev:start-1])), "#") {
			break
		}
		start = prev
	}
	return start, true
}

// removeItemEdit computes the text edit that deletes item i of the views sequence seq.
func (t textIndex) removeItemEdit(doc, seq *yaml.Node, i int) (textEdit, bool) {
	if seq.Style&yaml.FlowStyle != 0 {
		return textEdit{}, false
	}
	item := seq.Content[i]
	start, ok := t.itemStart(item)
	if !ok {
		return textEdit{}, false
	}
	if i+1 < len(seq.Content) {
		next, ok := t.itemStart(seq.Content[i+1])
		return textEdit{start, next, ""}, ok
	}
	e, ok := t.end(item)
	if !ok {
		return textEdit{}, false
	}
	end := t.lineEnd(e)
	if len(seq.Content) == 1 {
		root := doc.Content[0]
		colon, ok := t.colonAfter(root.Content[mappingKey(root, "views")])
		if !ok {
			return textEdit{}, false
		}
		return textEdit{colon + 1, end, " []"}, true
	}
	if end < len(t.src) {
		end++
	}
	return textEdit{start, end, ""}, true
}

// appendItemsEdit computes the text edit that appends the items of add to the views sequence.
func (t textIndex) appendItemsEdit(doc, seq, add *yaml.Node) (textEdit, bool) {
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if enc.Encode(add) != nil || enc.Close() != nil {
		return textEdit{}, false
	}
	rendered := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	indent := "  "
	at, replaceTo := 0, 0
	var b strings.Builder
	prefix := ""
	if len(seq.Content) > 0 {
		if seq.Style&yaml.FlowStyle != 0 {
			return textEdit{}, false
		}
		var ok bool
		_, indent, ok = t.dash(seq.Content[0])
		if !ok {
			return textEdit{}, false
		}
		e, ok := t.end(seq.Content[len(seq.Content)-1])
		if !ok {
			return textEdit{}, false
		}
		at = t.lineEnd(e)
		replaceTo = at
	} else {
		root := doc.Content[0]
		colon, ok := t.colonAfter(root.Content[mappingKey(root, "views")])
		if !ok {
			return textEdit{}, false
		}
		start, ok := t.offset(seq)
		if !ok {
			return textEdit{}, false
		}
		end, ok := t.matchBracket(start)
		if !ok {
			return textEdit{}, false
		}
		// Keep a comment after "[]" on the views line.
		at, replaceTo = colon+1, t.lineEnd(end)
		prefix = string(t.src[end:replaceTo])
	}
	b.WriteString(prefix)
	for _, line := range rendered {
		b.WriteString("\n")
		if line != "" {
			b.WriteString(indent + line)
		}
	}
	return textEdit{at, replaceTo, b.String()}, true
}
