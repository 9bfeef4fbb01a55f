package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"

	gjs "github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ToolsetDeclared tags the tools declared in materialize.yaml (`tools:`), which are also in
// [ToolsetRuntime].
const ToolsetDeclared = "declared"

// declaredOutputSchema is the output of every declared tool: query_view's result, named by
// its fields (their types are in query_view's outputSchema, listed next to it; each declared
// tool repeating them would cost tools/list's token budget some 150 bytes a tool).
var declaredOutputSchema = &gjs.Schema{Type: "object",
	Required: []string{"columns", "rows", "row_count", "truncated", "freshness"}}

// declaredCall is one call of a declared tool with its arguments bound.
type declaredCall struct {
	tool   *CompiledTool
	params [][]byte
}

// declaredSet is what a runtime registry needs to rebuild its declared tools.
type declaredSet struct {
	rs     *replicaSet
	schema string
	hashes map[string]string // the declared tools now in the registry: name -> ToolSpec.Hash
	// byView maps a view to the declared tools that read it (list_views, describe_view).
	byView atomic.Pointer[map[string][]string]
}

// readers returns the declared tools that read view, sorted.
func (ds *declaredSet) readers(view string) []string {
	if ds == nil {
		return nil
	}
	if m := ds.byView.Load(); m != nil {
		return (*m)[view]
	}
	return nil
}

// set records the declared tools now served.
func (ds *declaredSet) set(specs []ToolSpec, compiled []*CompiledTool) {
	ds.hashes = make(map[string]string, len(specs))
	byView := map[string][]string{}
	for i, s := range specs {
		ds.hashes[s.Name] = s.Hash()
		for _, v := range compiled[i].Reads {
			byView[v] = append(byView[v], s.Name)
		}
	}
	for _, names := range byView {
		slices.Sort(names)
	}
	ds.byView.Store(&byView)
}

// ToolChanges lists the declared tools that SetDeclaredTools added, changed and removed.
type ToolChanges struct {
	Added, Changed, Removed []string
}

// Empty reports whether nothing changed.
func (c ToolChanges) Empty() bool { return len(c.Added)+len(c.Changed)+len(c.Removed) == 0 }

// SetDeclaredTools replaces the declared tools of a registry built by [RuntimeTools] with
// specs, on the registry and on every server it is mounted on: the SDK then tells connected
// clients (notifications/tools/list_changed). All or nothing: a spec that does not compile
// leaves every tool as it was. Registries made by Select or Toolset are not updated.
func (r *Registry) SetDeclaredTools(specs []ToolSpec) (ToolChanges, error) {
	r.mu.RLock()
	ds := r.declared
	r.mu.RUnlock()
	if ds == nil {
		return ToolChanges{}, fmt.Errorf("tools: SetDeclaredTools: not a registry made by RuntimeTools")
	}
	built, compiled, err := declaredTools(ds.rs, ds.schema, specs)
	if err != nil {
		return ToolChanges{}, err
	}
	var ch ToolChanges
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range specs {
		if t, ok := r.tools[s.Name]; ok && !slices.Contains(t.toolsets, ToolsetDeclared) {
			return ToolChanges{}, fmt.Errorf("tools: declared tool %q: the registry already has a tool of that name; rename it", s.Name)
		}
	}
	keep := map[string]bool{}
	for i, s := range specs {
		h := s.Hash()
		keep[s.Name] = true
		old, had := ds.hashes[s.Name]
		switch {
		case !had:
			ch.Added = append(ch.Added, s.Name)
		case old != h:
			ch.Changed = append(ch.Changed, s.Name)
		default:
			continue
		}
		r.tools[s.Name] = built[i].t
		for _, srv := range r.servers {
			r.mountTool(srv, built[i].t)
		}
	}
	for name := range ds.hashes {
		if !keep[name] {
			ch.Removed = append(ch.Removed, name)
			delete(r.tools, name)
		}
	}
	if len(ch.Removed) > 0 {
		slices.Sort(ch.Removed)
		for _, srv := range r.servers {
			srv.RemoveTools(ch.Removed...)
		}
	}
	ds.set(specs, compiled)
	return ch, nil
}

// declaredTools compiles specs and builds their tools on the runtime tools rs. The SQL is
// checked against the managed views again on every call (views may be dropped after apply).
func declaredTools(rs *replicaSet, schema string, specs []ToolSpec) ([]Tool, []*CompiledTool, error) {
	out := make([]Tool, 0, len(specs))
	compiled := make([]*CompiledTool, 0, len(specs))
	for _, spec := range specs {
		ct, err := CompileTool(spec, schema, func(string) bool { return true })
		if err != nil {
			return nil, nil, fmt.Errorf("tools: declared tool: %w", err)
		}
		t, err := declaredTool(rs, ct)
		if err != nil {
			return nil, nil, fmt.Errorf("tools: declared tool %q: %w", spec.Name, err)
		}
		out = append(out, t)
		compiled = append(compiled, ct)
	}
	return out, compiled, nil
}

func declaredTool(rs *replicaSet, ct *CompiledTool) (Tool, error) {
	var cfg toolConfig
	for _, o := range []Option{ReadOnly(), OpenWorld(false), InToolset(ToolsetRuntime, ToolsetDeclared)} {
		o(&cfg)
	}
	schema, err := inputSchema(ct.Spec.Parameters)
	if err != nil {
		return Tool{}, err
	}
	resolved, err := schema.Resolve(&gjs.ResolveOptions{ValidateDefaults: true})
	if err != nil {
		return Tool{}, fmt.Errorf("input schema: %w", err)
	}
	ann := cfg.ann
	t := &tool{def: &mcp.Tool{Name: ct.Spec.Name, Description: ct.Spec.Description, InputSchema: schema,
		OutputSchema: declaredOutputSchema, Annotations: &ann}, resolved: resolved, toolsets: cfg.toolsets}
	run := routed(rs, func(rt *runtimeTools, ctx context.Context, c declaredCall) (QueryOutput, error) {
		opts := rt.execOpts
		opts.params = c.params
		opts.paramOIDs = c.tool.oids()
		return rt.runQuery(ctx, c.tool.SQL, 0, opts)
	})
	name := ct.Spec.Name
	t.handler = func(ctx context.Context, call *Call) (any, error) {
		args, err := applyInputSchema(call.Arguments, resolved)
		if err != nil {
			return nil, &ToolError{ErrorType: ErrInvalidArgument, Err: err,
				Message: fmt.Sprintf("invalid arguments for %s: %v", name, err),
				Hint:    "check the tool's input schema (tools/list) and call again"}
		}
		params, err := ct.bindArgs(args)
		if err != nil {
			return nil, err
		}
		return run(ctx, declaredCall{tool: ct, params: params})
	}
	return Tool{t}, nil
}

// oids are the Postgres types of $1… in order.
func (ct *CompiledTool) oids() []uint32 {
	out := make([]uint32, len(ct.Spec.Parameters))
	for i, p := range ct.Spec.Parameters {
		t, array := p.elem()
		o := paramOIDs[t]
		if array {
			out[i] = o[1]
		} else {
			out[i] = o[0]
		}
	}
	return out
}

// bindArgs validates the arguments (defaults applied) against each parameter's type and
// bounds and returns their text forms in order; a missing optional parameter is NULL. Nothing
// has run in the database yet.
func (ct *CompiledTool) bindArgs(args json.RawMessage) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	m := map[string]any{}
	if err := dec.Decode(&m); err != nil {
		return nil, NewError(ErrInvalidArgument, "arguments must be a JSON object: "+err.Error(), "check the tool's input schema (tools/list) and call again")
	}
	out := make([][]byte, len(ct.Spec.Parameters))
	for i, p := range ct.Spec.Parameters {
		v, ok := m[p.Name]
		if !ok || v == nil {
			if p.Required {
				return nil, NewError(ErrInvalidArgument, fmt.Sprintf("parameter %s is required", p.Name), "pass every required parameter (tools/list)")
			}
			continue
		}
		b, err := p.bind(v)
		if err != nil {
			return nil, &ToolError{ErrorType: ErrInvalidArgument, Err: err,
				Message: fmt.Sprintf("invalid value for parameter %s (%s): %v", p.Name, p.Type, err),
				Hint:    "check the parameter's type and bounds in the tool's input schema (tools/list) and call again"}
		}
		out[i] = b
	}
	return out, nil
}

// inputSchema is the JSON schema of the parameters: types, formats, bounds, enums, defaults,
// required; unknown arguments are refused.
func inputSchema(params []ParamSpec) (*gjs.Schema, error) {
	s := &gjs.Schema{Type: "object", Properties: map[string]*gjs.Schema{}, AdditionalProperties: &gjs.Schema{Not: &gjs.Schema{}}}
	for _, p := range params {
		t, array := p.elem()
		item := &gjs.Schema{Enum: jsonValues(p.Enum), Minimum: p.Min, Maximum: p.Max, MaxLength: p.MaxLength}
		switch t {
		case "date":
			item.Type, item.Format = "string", "date"
		case "timestamp":
			item.Type, item.Format = "string", "date-time"
		default:
			item.Type = t
		}
		ps := item
		if array {
			ps = &gjs.Schema{Type: "array", Items: item, MaxItems: new(MaxArrayItems)}
		}
		ps.Description = p.Description
		if p.Default != nil {
			b, err := json.Marshal(p.Default)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: default: %w", p.Name, err)
			}
			ps.Default = b
		}
		if p.Required {
			s.Required = append(s.Required, p.Name)
		}
		s.Properties[p.Name] = ps
	}
	return s, nil
}

// jsonValues returns vs as encoding/json decodes them (numbers as float64), the form the
// schema validator compares arguments with.
func jsonValues(vs []any) []any {
	if len(vs) == 0 {
		return nil
	}
	b, err := json.Marshal(vs)
	if err != nil {
		return vs
	}
	var out []any
	if json.Unmarshal(b, &out) != nil {
		return vs
	}
	return out
}
