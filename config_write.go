package agentmv

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/fileio"
	"github.com/agentmv/agentmv/internal/yamledit"
	"github.com/agentmv/agentmv/tools"
)

// ---- write-back -------------------------------------------------------------------------
//
// Every write edits the loaded bytes with internal/yamledit, which keeps everything it does not
// change (comments, blank lines, indentation, key order, flow style, quoting) byte for byte.
// The result must load as a valid config before the file is replaced atomically.

// WriteSources sets each named view's sources list to the sorted, de-duplicated names in
// sources, in one atomic write. Views not in the map are untouched; a missing sources key and
// an empty list count as equal. If nothing changes, the file is not written.
func (c *Config) WriteSources(sources map[string][]string) error {
	ed, _, items, err := c.editViews()
	if err != nil {
		return err
	}
	for name := range sources {
		if _, ok := items[name]; !ok {
			return fmt.Errorf("write sources: view %q is not in %s; reload the config and retry", name, c.display)
		}
	}
	names := slices.Sorted(maps.Keys(sources))
	all := make([]*yaml.Node, 0, len(items))
	for _, name := range slices.Sorted(maps.Keys(items)) {
		all = append(all, items[name])
	}
	dashOffset := ed.DashOffset(all, "sources", "indexes")
	changed := false
	for _, name := range names {
		want := slices.Clone(sources[name])
		slices.Sort(want)
		if ed.SetStrings(items[name], "sources", slices.Compact(want), dashOffset) {
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return c.commit(ed)
}

// RemoveView deletes the named view's entry from the file, and the name from every agent's
// views list (one atomic write). It does not touch the database or the view's SQL file.
func (c *Config) RemoveView(name string) error {
	ed, seq, items, err := c.editViews()
	if err != nil {
		return err
	}
	m, ok := items[name]
	if !ok {
		return fmt.Errorf("remove view: view %q is not in %s", name, c.display)
	}
	ed.RemoveItem(ed.Root(), "views", slices.Index(seq.Content, m))
	// Agents may list only views of the file: the view leaves their lists too.
	if ai := yamledit.Key(ed.Root(), "agents"); ai >= 0 {
		for _, agent := range yamledit.Resolve(ed.Root().Content[ai+1]).Content {
			if agent.Kind != yaml.MappingNode {
				continue
			}
			vi := yamledit.Key(agent, "views")
			if vi < 0 {
				continue
			}
			for i, it := range agent.Content[vi+1].Content {
				if it.Value == name {
					ed.RemoveItem(agent, "views", i)
					break
				}
			}
		}
	}
	return c.commit(ed)
}

// AddViews appends views to the file (one atomic write), as setup's finalize step does. Each
// view needs Name, SQLFile (relative to the YAML's directory; the file must already exist) and
// Description; Columns, Indexes, MinRefreshInterval, MaxStaleness, RefreshStrategy,
// IncrementalThreshold and Sources are written when set.
// The result must load as a valid config, or nothing is written.
func (c *Config) AddViews(views ...ViewConfig) error {
	return c.AddViewsWithTools(views, nil)
}

// AddViewsWithTools appends views (as [Config.AddViews]) and tool declarations under tools:
// (created when missing; sql inline) in one atomic write, as setup's finalize step does for a
// view proposed with a tool. The result must load as a valid config (each tool passes the
// same check as any tool of the file), or nothing is written.
func (c *Config) AddViewsWithTools(views []ViewConfig, specs []tools.ToolSpec) error {
	if len(views) == 0 && len(specs) == 0 {
		return nil
	}
	ed, _, items, err := c.editViews()
	if err != nil {
		return err
	}
	nodes := make([]*yaml.Node, 0, len(views))
	for _, v := range views {
		if err := boundary.ValidateViewName(v.Name); err != nil {
			return fmt.Errorf("add view: %w", err)
		}
		if _, dup := items[v.Name]; dup {
			return fmt.Errorf("add view: view %q already exists in %s; pick another name or remove the old view first", v.Name, c.display)
		}
		items[v.Name] = nil
		nodes = append(nodes, viewNode(v))
	}
	if len(nodes) > 0 {
		ed.AppendItems(ed.Root(), "views", nodes...)
	}
	if len(specs) > 0 {
		tnodes := make([]*yaml.Node, 0, len(specs))
		for _, s := range specs {
			tnodes = append(tnodes, toolNode(s))
		}
		root := ed.Root()
		if ti := yamledit.Key(root, "tools"); ti >= 0 && root.Content[ti+1].Kind == yaml.SequenceNode {
			ed.AppendItems(root, "tools", tnodes...)
		} else if ti >= 0 && yamledit.IsNull(root.Content[ti+1]) {
			return fmt.Errorf("add tool: %s has an empty tools: key; write `tools: []` or remove it", c.display)
		} else if ti >= 0 {
			return fmt.Errorf("add tool: tools in %s is not a list", c.display)
		} else {
			ed.AppendKey(root, "tools", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: tnodes})
		}
	}
	return c.commit(ed)
}

// toolNode is a tools entry for s (sql inline, a block scalar when it spans lines).
func toolNode(s tools.ToolSpec) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(n *yaml.Node, k string, val *yaml.Node) { n.Content = append(n.Content, yamledit.Str(k), val) }
	add(m, "name", yamledit.Str(s.Name))
	add(m, "description", yamledit.Str(s.Description))
	sql := yamledit.Str(strings.TrimSpace(s.SQL))
	if strings.Contains(sql.Value, "\n") {
		sql.Style = yaml.LiteralStyle
	}
	add(m, "sql", sql)
	if len(s.Parameters) > 0 {
		ps := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, p := range s.Parameters {
			pm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			add(pm, "name", yamledit.Str(p.Name))
			add(pm, "type", yamledit.Str(p.Type))
			if p.Description != "" {
				add(pm, "description", yamledit.Str(p.Description))
			}
			if p.Required {
				add(pm, "required", valueNode(true))
			}
			if p.Default != nil {
				add(pm, "default", valueNode(p.Default))
			}
			if p.Min != nil {
				add(pm, "min", valueNode(*p.Min))
			}
			if p.Max != nil {
				add(pm, "max", valueNode(*p.Max))
			}
			if p.MaxLength != nil {
				add(pm, "max_length", valueNode(*p.MaxLength))
			}
			if len(p.Enum) > 0 {
				add(pm, "enum", valueNode(p.Enum))
			}
			ps.Content = append(ps.Content, pm)
		}
		add(m, "parameters", ps)
	}
	return m
}

// valueNode is the YAML scalar (or flow list) for a parameter value as JSON or YAML decode it;
// a whole float64 is written as an integer, as it was most likely given.
func valueNode(v any) *yaml.Node {
	scalar := func(tag, val string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: val} }
	switch x := v.(type) {
	case bool:
		return scalar("!!bool", strconv.FormatBool(x))
	case int:
		return scalar("!!int", strconv.Itoa(x))
	case int64:
		return scalar("!!int", strconv.FormatInt(x, 10))
	case uint64:
		return scalar("!!int", strconv.FormatUint(x, 10))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return scalar("!!int", strconv.FormatInt(int64(x), 10))
		}
		return scalar("!!float", strconv.FormatFloat(x, 'g', -1, 64))
	case []any:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for _, it := range x {
			seq.Content = append(seq.Content, valueNode(it))
		}
		return seq
	default:
		return yamledit.Str(fmt.Sprint(x))
	}
}

func viewNode(v ViewConfig) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, val *yaml.Node) { m.Content = append(m.Content, yamledit.Str(k), val) }
	add("name", yamledit.Str(v.Name))
	add("sql_file", yamledit.Str(v.SQLFile))
	add("description", yamledit.Str(v.Description))
	if len(v.Columns) > 0 {
		cols := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, c := range v.Columns {
			cols.Content = append(cols.Content, yamledit.Str(c.Column), yamledit.Str(c.Description))
		}
		add("columns", cols)
	}
	if len(v.Indexes) > 0 {
		ixs := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, ix := range v.Indexes {
			cols := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
			for _, col := range ix.Columns {
				cols.Content = append(cols.Content, yamledit.Str(col))
			}
			im := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			im.Content = append(im.Content, yamledit.Str("columns"), cols,
				yamledit.Str("unique"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(ix.Unique)})
			ixs.Content = append(ixs.Content, im)
		}
		add("indexes", ixs)
	}
	if v.MinRefreshInterval > 0 {
		add("min_refresh_interval", yamledit.Str(FormatDuration(v.MinRefreshInterval)))
	}
	if v.MaxStaleness > 0 {
		add("max_staleness", yamledit.Str(FormatDuration(v.MaxStaleness)))
	}
	if v.RefreshStrategy != "" && v.RefreshStrategy != "full" {
		add("refresh_strategy", yamledit.Str(v.RefreshStrategy))
	}
	if v.IncrementalThreshold > 0 {
		add("incremental_threshold", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v.IncrementalThreshold, 'g', -1, 64)})
	}
	if len(v.Sources) > 0 {
		src := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		s := slices.Clone(v.Sources)
		slices.Sort(s)
		for _, x := range slices.Compact(s) {
			src.Content = append(src.Content, yamledit.Str(x))
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

// editViews opens the loaded bytes for editing and returns the views sequence and each named
// view's mapping node.
func (c *Config) editViews() (*yamledit.Editor, *yaml.Node, map[string]*yaml.Node, error) {
	ed, err := yamledit.New(c.raw)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w; reload it", c.display, err)
	}
	root := ed.Root()
	if root == nil {
		return nil, nil, nil, fmt.Errorf("%s has no YAML document; reload it", c.display)
	}
	ki := yamledit.Key(root, "views")
	if ki < 0 || root.Content[ki+1].Kind != yaml.SequenceNode {
		return nil, nil, nil, fmt.Errorf("%s has no views list; reload it", c.display)
	}
	seq := root.Content[ki+1]
	items := map[string]*yaml.Node{}
	for _, it := range seq.Content {
		if it.Kind != yaml.MappingNode {
			continue
		}
		if ni := yamledit.Key(it, "name"); ni >= 0 {
			items[it.Content[ni+1].Value] = it
		}
	}
	return ed, seq, items, nil
}

// commit checks the edited text loads as a valid config and replaces the file (through a
// symlink to its target), unless the file changed on disk since it was loaded.
func (c *Config) commit(ed *yamledit.Editor) error {
	out, err := ed.Bytes()
	if err != nil {
		return fmt.Errorf("write %s: %w", c.display, err)
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
	path := c.Path
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	if err := fileio.WriteAtomic(path, out, c.mode); err != nil {
		return fmt.Errorf("write %s: %w", c.display, err)
	}
	next.mode = c.mode
	*c = *next
	return nil
}
