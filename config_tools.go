package agentmv

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/fileio"
	"github.com/agentmv/agentmv/internal/yamledit"
	"github.com/agentmv/agentmv/tools"
)

// ToolConfig is one entry of materialize.yaml's tools list: a named, parameterized read-only
// tool over the managed views, served by the runtime server next to the built-in tools.
type ToolConfig struct {
	tools.ToolSpec
	// SQLFile is the sql_file value as written (empty when the SQL is inline in `sql`).
	SQLFile string
	// Line is the tool's line in the YAML file; SQLLine the line of its sql or sql_file key.
	Line    int
	SQLLine int
	// Reads are the managed views the SQL reads (filled when the config loads).
	Reads []string
}

// ToolSpecs returns the declared tools as the runtime tools take them.
func (c *Config) ToolSpecs() []tools.ToolSpec {
	if c == nil || len(c.Tools) == 0 {
		return nil
	}
	out := make([]tools.ToolSpec, len(c.Tools))
	for i, t := range c.Tools {
		out[i] = t.ToolSpec
	}
	return out
}

// Keys of a tools entry and of one of its parameters.
var (
	toolKeys  = []string{"name", "description", "sql", "sql_file", "parameters"}
	paramKeys = []string{"name", "type", "description", "required", "default", "min", "max", "max_length", "enum"}
)

// yamlTools reads the top-level tools list (declarations only; the SQL is checked by
// compileTools once every view and sql_file is known).
func (v *validator) yamlTools(n *yaml.Node) {
	if !v.list(n, "tools", "tools", "a list of tools", " (use `tools: []` for none)") {
		return
	}
	tools := namedItems(v, n, "tools", "name, description, sql and parameters", v.tool,
		func(tc ToolConfig) (string, int) { return tc.Name, tc.Line },
		func(tc ToolConfig, first int) {
			v.bad(tc.Line, "tool %q is already defined at line %d; tool names must be unique", tc.Name, first)
		})
	v.cfg.Tools = append(v.cfg.Tools, tools...)
}

// tool reads one tools entry; only a tool without a name is left out (a missing sql or
// description is reported and the tool still takes part in the duplicate-name check).
func (v *validator) tool(m *yaml.Node, idx int) (ToolConfig, bool) {
	label := fmt.Sprintf("tools[%d]", idx)
	tc := ToolConfig{Line: m.Line}
	var haveSQL bool
	for _, kv := range v.pairs(m, label) {
		k, val := kv[0], kv[1]
		switch k.Value {
		case "name":
			if s, ok := v.str(val, label+": name"); ok {
				tc.Name = s
				label = fmt.Sprintf("tool %q", s)
			}
		case "description":
			if s, ok := v.str(val, label+": description"); ok {
				tc.Description = s
			}
		case "sql", "sql_file":
			if haveSQL {
				v.bad(k.Line, "%s: give either sql or sql_file, not both", label)
				continue
			}
			haveSQL, tc.SQLLine = true, k.Line
			if s, ok := v.str(val, label+": "+k.Value); ok {
				if k.Value == "sql" {
					tc.SQL = s
				} else {
					tc.SQLFile = s
				}
			}
		case "parameters":
			tc.Parameters = v.toolParams(val, label)
		default:
			v.unknownKey(k, label, toolKeys)
		}
	}
	switch {
	case tc.Name == "":
		v.bad(m.Line, "%s: name is required", label)
		return tc, false
	case !haveSQL:
		v.bad(m.Line, "%s: sql (one SELECT over the managed views) or sql_file is required", label)
	case strings.TrimSpace(tc.Description) == "":
		v.bad(m.Line, "%s: description is required; say when an agent should call the tool", label)
	}
	return tc, true
}

func (v *validator) toolParams(n *yaml.Node, label string) []tools.ParamSpec {
	if !v.list(n, label, "parameters", "a list of parameters", "") {
		return nil
	}
	var out []tools.ParamSpec
	for i, item := range n.Content {
		item = yamledit.Resolve(item)
		where := fmt.Sprintf("%s: parameters[%d]", label, i)
		if item.Kind != yaml.MappingNode {
			v.bad(item.Line, "%s must be a mapping with name, type and description, got %s", where, kindName(item))
			continue
		}
		var p tools.ParamSpec
		before := len(v.invalid)
		for _, kv := range v.pairs(item, where) {
			k, val := kv[0], kv[1]
			var err error
			switch k.Value {
			case "name":
				p.Name, _ = v.str(val, where+": name")
			case "type":
				p.Type, _ = v.str(val, where+": type")
			case "description":
				p.Description, _ = v.str(val, where+": description")
			case "required":
				err = scalarInto(val, "!!bool", "true or false", &p.Required)
			case "default":
				p.Default, err = yamlValue(val)
			case "min":
				p.Min = new(float64)
				err = scalarInto(val, "!!int !!float", "a number", p.Min)
			case "max":
				p.Max = new(float64)
				err = scalarInto(val, "!!int !!float", "a number", p.Max)
			case "max_length":
				p.MaxLength = new(int)
				err = scalarInto(val, "!!int", "a whole number", p.MaxLength)
			case "enum":
				var e any
				if e, err = yamlValue(val); err == nil {
					var ok bool
					if p.Enum, ok = e.([]any); !ok || len(p.Enum) == 0 {
						err = errors.New("must be a non-empty list of values")
					}
				}
			default:
				v.unknownKey(k, where, paramKeys)
			}
			if err != nil {
				v.bad(val.Line, "%s: %s %v", where, k.Value, err)
			}
		}
		if len(v.invalid) > before {
			continue
		}
		if p.Name == "" || p.Type == "" {
			v.bad(item.Line, "%s: name and type are required (types: %s, or one of them followed by [])", where, strings.Join(tools.ParamTypes, ", "))
			continue
		}
		if err := p.Check(); err != nil {
			v.bad(item.Line, "%s: %v", label, err)
			continue
		}
		out = append(out, p)
	}
	return out
}

// scalarInto decodes a scalar whose tag is one of tags (space-separated) into out.
func scalarInto(n *yaml.Node, tags, want string, out any) error {
	if n.Kind != yaml.ScalarNode || !slices.Contains(strings.Fields(tags), n.ShortTag()) {
		return fmt.Errorf("must be %s, got %s", want, kindName(n))
	}
	return n.Decode(out)
}

// yamlValue converts a scalar or a list of scalars to the JSON value an argument would be:
// dates and timestamps stay strings (as agents send them).
func yamlValue(n *yaml.Node) (any, error) {
	n = yamledit.Resolve(n)
	switch {
	case n.Kind == yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, it := range n.Content {
			v, err := yamlValue(it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case n.Kind != yaml.ScalarNode || yamledit.IsNull(n):
		return nil, fmt.Errorf("must be a value or a list of values, got %s", kindName(n))
	}
	switch n.ShortTag() {
	case "!!int":
		var i int64
		err := n.Decode(&i)
		return i, err
	case "!!float":
		var f float64
		err := n.Decode(&f)
		return f, err
	case "!!bool":
		var b bool
		err := n.Decode(&b)
		return b, err
	default: // !!str, !!timestamp
		return n.Value, nil
	}
}

// compileTools reads each tool's sql_file and checks its SQL with the runtime's own guard
// (tools.CompileTool: one SELECT over the views of this file, no denied function, every
// placeholder declared and every parameter used).
func (c *Config) compileTools() error {
	var probs []Problem
	managed := func(name string) bool {
		_, ok := c.View(name)
		return ok || slices.Contains(boundary.MetadataTables(), name)
	}
	for i := range c.Tools {
		tc := &c.Tools[i]
		if tc.SQLFile != "" {
			p := tc.SQLFile
			if !filepath.IsAbs(p) {
				p = filepath.Join(c.Dir, p)
			}
			body, err := fileio.ReadCapped(p, MaxSQLFileBytes)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					err = errors.New("not found (paths are relative to the YAML file)")
				}
				probs = append(probs, Problem{Line: tc.SQLLine, Message: fmt.Sprintf("tool %q: sql_file %s: %v", tc.Name, p, err)})
				continue
			}
			if reason := sqlBodyProblem(body); reason != "" {
				probs = append(probs, Problem{Line: tc.SQLLine, Message: fmt.Sprintf("tool %q: sql_file %s %s", tc.Name, p, reason)})
				continue
			}
			tc.SQL = string(body)
		}
		ct, err := tools.CompileTool(tc.ToolSpec, c.TargetSchema, managed)
		if err != nil {
			probs = append(probs, Problem{Line: tc.SQLLine, Message: err.Error() + "; a tool reads only the views of this file (and agentmv's metadata tables) with one SELECT"})
			continue
		}
		tc.Reads = ct.Reads
	}
	if len(probs) > 0 {
		return problemsError(c.display, "invalid config", probs)
	}
	return nil
}
