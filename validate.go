package agentmv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/suggest"
	"github.com/agentmv/agentmv/internal/yamledit"
)

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

// Keys each mapping of materialize.yaml accepts. A key agentmv does not know is an error (a
// typo such as `indexs:` must not silently drop indexes), with a suggestion when one is close;
// keys starting with x- are the user's own annotations and are ignored.
var (
	topLevelKeys = []string{"version", "target_schema", "scheduler", "views", "refresh_lock_timeout", "runtime_role", "public_privileges", "agents", "tools"}
	viewKeys     = []string{"name", "sql_file", "description", "columns", "indexes", "sources", "sql", "min_refresh_interval", "max_staleness", "refresh_lock_timeout", "refresh_every",
		"refresh_strategy", "incremental_threshold"}
	indexKeys = []string{"columns", "unique"}
)

// unknownKey reports key k, found in where, unless it is one of the user's own x- keys.
func (v *validator) unknownKey(k *yaml.Node, where string, known []string) {
	if strings.HasPrefix(k.Value, "x-") {
		return
	}
	if c, ok := suggest.Closest(k.Value, known); ok {
		v.bad(k.Line, "unknown key %q in %s; did you mean %q? (the keys there are %s)", k.Value, where, c, strings.Join(known, ", "))
		return
	}
	v.bad(k.Line, "unknown key %q in %s; the keys there are %s, and keys of your own must start with x- (e.g. x-%s)",
		k.Value, where, strings.Join(known, ", "), k.Value)
}

// pairs returns a mapping's key/value pairs, reporting duplicate keys.
func (v *validator) pairs(m *yaml.Node, where string) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, val := m.Content[i], yamledit.Resolve(m.Content[i+1])
		if first, dup := seen[k.Value]; dup {
			v.bad(k.Line, "key %q appears twice in %s (first at line %d)", k.Value, where, first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, [2]*yaml.Node{k, val})
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch {
	case yamledit.IsNull(n):
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
	if doc.Kind == 0 || len(doc.Content) == 0 || yamledit.IsNull(doc.Content[0]) {
		v.bad(1, "the file is empty; it needs `version: 1`, `target_schema` and `views` (run `agent-mv init` for a template)")
		return
	}
	root := yamledit.Resolve(doc.Content[0])
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
				if err := boundary.ValidateSchemaName(s); err != nil {
					v.bad(val.Line, "%v", err)
				}
				v.cfg.TargetSchema = s
			}
		case "views":
			haveViews = true
			v.views(val)
		case "refresh_lock_timeout":
			v.cfg.RefreshLockTimeout = v.duration(val, "refresh_lock_timeout")
		case "runtime_role":
			v.runtimeRole(val)
		case "public_privileges":
			v.publicPrivileges(val)
		case "agents":
			v.agents(val)
		case "scheduler":
			if s, ok := v.str(val, "scheduler"); ok {
				if s != SchedulerServe && s != SchedulerPgCron {
					v.bad(val.Line, "scheduler must be %q (agent-mv serve refreshes scheduled views) or %q (the database's pg_cron does), got %q", SchedulerServe, SchedulerPgCron, s)
				}
				v.cfg.Scheduler = s
			}
		case "tools":
			v.yamlTools(val)
		default:
			v.unknownKey(k, "the top level", topLevelKeys)
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
	for i := range v.cfg.Views {
		if v.cfg.Views[i].RefreshLockTimeout == 0 {
			v.cfg.Views[i].RefreshLockTimeout = v.cfg.RefreshLockTimeout
		}
	}
	if v.cfg.Scheduler == "" {
		v.cfg.Scheduler = SchedulerServe
	}
	if v.cfg.Scheduler == SchedulerPgCron {
		for _, vc := range v.cfg.Views {
			if vc.RefreshEvery > 0 {
				if _, err := boundary.CronSchedule(vc.RefreshEvery, true); err != nil {
					v.bad(vc.Line, "view %q: refresh_every: %v (or remove `scheduler: pg_cron` and run agent-mv serve, which takes any interval)", vc.Name, err)
				}
			}
		}
	}
	v.indexNames()
	v.agentViews()
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

func (v *validator) views(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		v.bad(n.Line, "views must be a list of views, got %s (use `views: []` for none)", kindName(n))
		return
	}
	views := namedItems(v, n, "views", "name, sql_file and description", v.view,
		func(vc ViewConfig) (string, int) { return vc.Name, vc.Line },
		func(vc ViewConfig, first int) {
			v.duplicates = append(v.duplicates, Problem{Line: vc.Line, Message: fmt.Sprintf("view %q is already defined at line %d; view names must be unique", vc.Name, first)})
		})
	v.cfg.Views = append(v.cfg.Views, views...)
}

// namedItems reads list n of named mappings (views, agents, tools): an item that is not a mapping is
// an error saying what it must hold (list[i] must be a mapping with …); parse reads one mapping
// (false when it is invalid); an item whose name came before goes to dup with the line of the
// first, and is left out. The rest are returned in file order.
func namedItems[T any](v *validator, n *yaml.Node, list, holds string, parse func(m *yaml.Node, idx int) (T, bool),
	name func(T) (string, int), dup func(item T, first int)) []T {
	var out []T
	firstLine := map[string]int{}
	for i, item := range n.Content {
		item = yamledit.Resolve(item)
		if item.Kind != yaml.MappingNode {
			v.bad(item.Line, "%s[%d] must be a mapping with %s, got %s", list, i, holds, kindName(item))
			continue
		}
		x, ok := parse(item, i)
		if !ok {
			continue
		}
		nm, line := name(x)
		if first, seen := firstLine[nm]; seen {
			dup(x, first)
			continue
		}
		firstLine[nm] = line
		out = append(out, x)
	}
	return out
}

// itemLabel is how messages name item idx of list: `<kind> "<name>"` when the mapping's name
// is a non-empty string (found first, so every message can name the item whatever the key
// order), else `<list>[<idx>]`.
func itemLabel(m *yaml.Node, list, kind string, idx int) string {
	if i := yamledit.Key(m, "name"); i >= 0 {
		if n := yamledit.Resolve(m.Content[i+1]); n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value != "" {
			return fmt.Sprintf("%s %q", kind, n.Value)
		}
	}
	return fmt.Sprintf("%s[%d]", list, idx)
}

func (v *validator) view(m *yaml.Node, idx int) (ViewConfig, bool) {
	vc := ViewConfig{Line: m.Line}
	label := itemLabel(m, "views", "view", idx)
	before := len(v.invalid)
	var haveName, haveFile, haveDesc bool
	for _, kv := range v.pairs(m, label) {
		k, val := kv[0], kv[1]
		switch k.Value {
		case "name":
			haveName = true
			if s, ok := v.str(val, label+": name"); ok {
				if err := boundary.ValidateViewName(s); err != nil {
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
		case "columns":
			vc.Columns = v.columnDescriptions(val, label)
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
		case "refresh_lock_timeout":
			vc.RefreshLockTimeout = v.duration(val, label+": refresh_lock_timeout")
		case "refresh_every":
			vc.RefreshEvery = v.duration(val, label+": refresh_every")
			if vc.RefreshEvery > 0 && vc.RefreshEvery < MinRefreshEvery {
				v.bad(val.Line, "%s: refresh_every must be at least %s, got %s", label, MinRefreshEvery, vc.RefreshEvery)
			}
		case "refresh_strategy":
			if s, ok := v.str(val, label+": refresh_strategy"); ok {
				if s != "full" && s != "incremental" {
					v.bad(val.Line, "%s: refresh_strategy must be full or incremental, got %q", label, s)
				}
				vc.RefreshStrategy = s
			}
		case "incremental_threshold":
			vc.IncrementalThreshold = v.share(val, label+": incremental_threshold")
		default:
			v.unknownKey(k, label, viewKeys)
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
	if vc.IncrementalThreshold > 0 && vc.RefreshStrategy != "incremental" {
		v.bad(m.Line, "%s: incremental_threshold applies only to refresh_strategy: incremental; add that or remove the threshold", label)
	}
	if vc.MinRefreshInterval > 0 && vc.MaxStaleness > 0 && vc.MaxStaleness < vc.MinRefreshInterval {
		v.bad(m.Line, "%s: max_staleness (%s) is shorter than min_refresh_interval (%s), so the view could never be fresh", label, vc.MaxStaleness, vc.MinRefreshInterval)
	}
	if vc.RefreshEvery > 0 && vc.RefreshEvery < vc.MinRefreshInterval {
		v.bad(m.Line, "%s: refresh_every (%s) is shorter than min_refresh_interval (%s): refresh_view would refuse most scheduled refreshes; raise refresh_every or lower min_refresh_interval", label, vc.RefreshEvery, vc.MinRefreshInterval)
	}
	return vc, len(v.invalid) == before
}

// columnDescriptions reads a view's columns: mapping (column name -> one-line meaning).
// Whether each column exists is checked against the view itself, by plan and apply.
func (v *validator) columnDescriptions(n *yaml.Node, label string) []ColumnDescription {
	where := label + ": columns"
	if yamledit.IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		v.bad(n.Line, "%s must be a mapping from column name to a one-line description (e.g. `revenue: Sum of paid order totals, in euros`), got %s", where, kindName(n))
		return nil
	}
	var out []ColumnDescription
	for _, kv := range v.pairs(n, where) {
		k, val := kv[0], kv[1]
		if k.Kind != yaml.ScalarNode || k.Value == "" || len(k.Value) > boundary.MaxIdentifierBytes {
			v.bad(k.Line, "%s: %q is not a column name (at most %d bytes)", where, k.Value, boundary.MaxIdentifierBytes)
			continue
		}
		s, ok := v.str(val, fmt.Sprintf("%s: %s", where, k.Value))
		if !ok {
			continue
		}
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			v.bad(val.Line, "%s: %s has an empty description; say in a few words what the column means (unit, currency, time zone), or remove the entry", where, k.Value)
			continue
		case strings.ContainsAny(s, "\n\r\x00"):
			v.bad(val.Line, "%s: %s must be described in one line (the view's description can say more)", where, k.Value)
			continue
		}
		out = append(out, ColumnDescription{Column: k.Value, Description: s})
	}
	return out
}

func (v *validator) duration(n *yaml.Node, what string) time.Duration {
	s, ok := v.str(n, what)
	if !ok {
		return 0
	}
	d, err := ParseDuration(s)
	if err != nil || d <= 0 {
		v.bad(n.Line, "%s must be a positive Go duration such as \"90s\", \"5m\", \"1h30m\" or \"1d\", got %q", what, s)
		return 0
	}
	return d
}

// share reads a fraction in (0, 1]: a number such as 0.2, or a percentage such as "20%".
func (v *validator) share(n *yaml.Node, what string) float64 {
	n = yamledit.Resolve(n)
	text := strings.TrimSpace(n.Value)
	pct := strings.HasSuffix(text, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(text, "%")), 64)
	if pct {
		f /= 100
	}
	if n.Kind != yaml.ScalarNode || err != nil || !(f > 0 && f <= 1) {
		v.bad(n.Line, "%s must be a share of the base rows between 0 and 1, such as 0.2 or \"20%%\", got %q", what, n.Value)
		return 0
	}
	return f
}

// list reports whether n, the value of key, is a list to read. A null is an empty list;
// anything else that is not a list is a problem ("<label>: <key> must be <shape>, got …<hint>").
func (v *validator) list(n *yaml.Node, label, key, shape, hint string) bool {
	if yamledit.IsNull(n) {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		v.bad(n.Line, "%s: %s must be %s, got %s%s", label, key, shape, kindName(n), hint)
		return false
	}
	return true
}

// mapping reports whether n, the value of the optional key where, is a mapping to read. A null
// is an absent mapping; anything else is a problem ("<where> must be a mapping (<keys>), got …").
func (v *validator) mapping(n *yaml.Node, where string, keys []string) bool {
	if yamledit.IsNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		v.bad(n.Line, "%s must be a mapping (%s), got %s", where, strings.Join(keys, ", "), kindName(n))
		return false
	}
	return true
}

func (v *validator) sources(n *yaml.Node, label string) []string {
	if !v.list(n, label, "sources", "a list of strings", " (apply owns this key; delete it and re-run apply)") {
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, it := range n.Content {
		if s, ok := v.str(yamledit.Resolve(it), label+": sources entry"); ok {
			out = append(out, s)
		}
	}
	return out
}

func (v *validator) indexes(n *yaml.Node, label string) []IndexConfig {
	if !v.list(n, label, "indexes", "a list of {columns: [...], unique: bool}", "") {
		return nil
	}
	var out []IndexConfig
	for i, it := range n.Content {
		it = yamledit.Resolve(it)
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
				v.unknownKey(k, where, indexKeys)
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
		c = yamledit.Resolve(c)
		s, ok := v.str(c, where+": column")
		if !ok {
			continue
		}
		if err := boundary.ValidateIdentifier("index column", s); err != nil {
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
			if len(name) > boundary.MaxIdentifierBytes {
				v.bad(vc.Line, "%s: index name %q is %d bytes; Postgres truncates names to %d bytes, so use fewer or shorter columns or a shorter view name",
					where, name, len(name), boundary.MaxIdentifierBytes)
				continue
			}
			if slices.Contains(boundary.OwnObjectNames(), name) {
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
