package agentmv

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/internal/fileio"
)

// ConfigFileName is the default name of the project file that lists the managed views.
const ConfigFileName = "materialize.yaml"

// MaxSQLFileBytes bounds the size of one view's SQL file.
const MaxSQLFileBytes = 1 << 20

// ErrConfigChanged is returned by the write-back methods when the file on disk is no longer
// the one that was loaded (someone or another apply edited it meanwhile).
var ErrConfigChanged = errors.New("the file changed on disk since it was loaded")

// MaxConfigFileBytes bounds the size of materialize.yaml (thousands of views fit easily).
const MaxConfigFileBytes = 4 << 20

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
	// Scheduler says who refreshes views on their refresh_every: SchedulerServe (the default:
	// `agent-mv serve`) or SchedulerPgCron (apply keeps one pg_cron job per scheduled view).
	Scheduler string
	// Views are the configured views in file order.
	Views []ViewConfig
	// RefreshLockTimeout is the top-level refresh_lock_timeout: the default of every view that
	// sets none (0 = boundary.DefaultRefreshLockTimeout).
	RefreshLockTimeout time.Duration
	// RuntimeRole holds the runtime role's limits and allowlist (runtime_role).
	RuntimeRole RuntimeRoleConfig
	// PublicPrivileges says what apply may revoke from PUBLIC (public_privileges).
	PublicPrivileges PublicPrivilegesConfig
	// Agents are the agents of the top-level agents list, in file order: each gets a Postgres
	// role of its own that reads and refreshes only its views (see AgentConfig).
	Agents []AgentConfig
	// Tools are the declared tools (the YAML's tools list), in file order.
	Tools []ToolConfig
	// Warnings lists harmless oddities found while loading, for callers to print once. Unknown
	// keys are errors, not warnings; keys starting with x- are the user's own and are ignored.
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
	// Columns are the meanings of some of the view's columns (the YAML's columns: mapping, in
	// file order). Apply stores each as the column's Postgres comment (and Description as the
	// view's); describe_view and list_views show them.
	Columns []ColumnDescription
	// Indexes are the indexes created on the view (a unique one allows concurrent refresh).
	Indexes []IndexConfig
	// Sources is the lineage recorded by the last apply (owned by apply; see WriteSources).
	Sources []string
	// MinRefreshInterval, when set, is the shortest time between two refreshes of the view.
	MinRefreshInterval time.Duration
	// MaxStaleness, when set, is how old the view's data may get before it counts as stale.
	MaxStaleness time.Duration
	// RefreshLockTimeout bounds how long a refresh waits for a lock on the view or a relation
	// it reads before it fails (SQLSTATE 55P03): the view's refresh_lock_timeout, else the
	// top-level one, else 0 (boundary.DefaultRefreshLockTimeout, 5s).
	RefreshLockTimeout time.Duration
	// RefreshEvery, when set, is how old the view's data (data_as_of) may get before the
	// scheduler refreshes it; at least MinRefreshEvery.
	RefreshEvery time.Duration
	// RefreshStrategy is "full" (the default: a materialized view, recomputed by each refresh)
	// or "incremental" (a table kept exact from captured changes; see CONTRACTS.md).
	RefreshStrategy string
	// IncrementalThreshold, when set (0 < t <= 1), is the share of the base rows above which
	// captured changes are applied by a full refresh instead (default 0.1).
	IncrementalThreshold float64
	// Line is the view's line in the YAML file.
	Line int
}

// Values of Config.Scheduler (the YAML's top-level scheduler key).
const (
	SchedulerServe  = "serve"   // `agent-mv serve` refreshes scheduled views (the default)
	SchedulerPgCron = "pg_cron" // apply keeps one pg_cron job per scheduled view
)

// MinRefreshEvery is the shortest refresh_every a view may have.
const MinRefreshEvery = time.Second

// ParseDuration parses a Go duration ("90s", "5m", "1h30m") that may start with a number of
// days ("1d", "2d12h"): the syntax of refresh_every, max_staleness and min_refresh_interval.
func ParseDuration(s string) (time.Duration, error) {
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		d := time.Duration(days) * 24 * time.Hour
		if rest := s[i+1:]; rest != "" {
			r, err := time.ParseDuration(rest)
			if err != nil || r < 0 {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			d += r
		}
		return d, nil
	}
	return time.ParseDuration(s)
}

// IndexConfig is one entry of a view's indexes list.
type IndexConfig struct {
	Columns []string
	Unique  bool
}

// ColumnDescription is one entry of a view's columns mapping: what a column means, in one line.
type ColumnDescription struct {
	Column      string
	Description string
}

// ColumnDescriptions returns the view's column meanings by column name (nil when none).
func (v ViewConfig) ColumnDescriptions() map[string]string {
	if len(v.Columns) == 0 {
		return nil
	}
	out := make(map[string]string, len(v.Columns))
	for _, c := range v.Columns {
		out[c.Column] = c.Description
	}
	return out
}

// Name returns the index name agentmv uses on view: <view>_<col1>_<col2>…_idx (the seed's naming).
func (ix IndexConfig) Name(view string) string {
	return view + "_" + strings.Join(ix.Columns, "_") + "_idx"
}

// schedules maps each view with a refresh_every to it.
func (c *Config) schedules() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, v := range c.Views {
		if v.RefreshEvery > 0 {
			out[v.Name] = v.RefreshEvery
		}
	}
	return out
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

// LoadConfig reads and validates the materialize.yaml at path and reads each view's SQL file.
//
// A missing file gives an error wrapping fs.ErrNotExist that says to run `agent-mv init` (and,
// for a file not named materialize.yaml, to check the path).
// Other failures are *ConfigError values whose text starts like the seed's
// (`failed to parse`, `unsupported version in`, `duplicate view names in`, `invalid config`,
// `sql_file not found for view`) and carries YAML line numbers.
func LoadConfig(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve config path %s: %w", path, err)
	}
	raw, err := fileio.ReadCapped(abs, MaxConfigFileBytes)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			msg := fmt.Sprintf("%s not found at %s. Run `agent-mv init` first.", filepath.Base(abs), abs)
			if filepath.Base(abs) != ConfigFileName {
				// A path the user named (--config): a typo is likelier than a missing project.
				msg = fmt.Sprintf("%s not found at %s. Check the --config path, or run `agent-mv init` to create a %s.", filepath.Base(abs), abs, ConfigFileName)
			}
			return nil, &ConfigError{Path: path, err: err, msg: msg}
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
	if err := cfg.compileTools(); err != nil {
		return nil, err
	}
	if err := cfg.checkAgentTools(); err != nil {
		return nil, err
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
	body, err := fileio.ReadCapped(p, MaxSQLFileBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &ConfigError{Path: c.display, err: err, Problems: []Problem{{Line: v.Line, Message: "sql_file not found"}},
			msg: fmt.Sprintf("sql_file not found for view '%s': %s %s; create the file or fix sql_file (paths are relative to the YAML file)", v.Name, p, where)}
	case errors.Is(err, fileio.ErrDirectory):
		return invalid("is a directory, not a SQL file", nil)
	case err != nil:
		return invalid("cannot read it: "+err.Error(), err)
	}
	if reason := sqlBodyProblem(body); reason != "" {
		return invalid(reason, nil)
	}
	v.SQL = string(body)
	return nil
}

// sqlBodyProblem says what makes body unusable as a SQL file, or "".
func sqlBodyProblem(body []byte) string {
	switch {
	case len(body) > MaxSQLFileBytes:
		return fmt.Sprintf("larger than %d bytes (1 MiB); a view body should be one SELECT", MaxSQLFileBytes)
	case !utf8.Valid(body):
		return "not valid UTF-8; save it as UTF-8"
	case strings.IndexByte(string(body), 0) >= 0:
		return "contains a NUL byte, which Postgres does not accept in SQL text"
	case sqlIsBlank(string(body)):
		return "has no SQL, only comments and whitespace; put the view's SELECT in it"
	}
	return ""
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
