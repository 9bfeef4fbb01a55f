package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	gjs "github.com/google/jsonschema-go/jsonschema"
	"github.com/invopop/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Toolset names used by agentmv. Hosts may tag their own tools with any other name.
const (
	ToolsetRuntime = "runtime" // list_views, describe_view, query_view, refresh_view, get_lineage
	ToolsetSetup   = "setup"   // list_schemas ... finalize_config (privileged DSN, used once)
)

// Tool is one typed MCP tool ready to be added to a [Registry]. Build it with [New]. The zero
// Tool is invalid. A Tool is immutable and safe to share between registries.
type Tool struct {
	t *tool
}

type tool struct {
	def      *mcp.Tool     // name, description, annotations, input and output schemas (as sent in tools/list)
	resolved *gjs.Resolved // the input schema, resolved: validation and defaults of arguments
	toolsets []string
	textOnly bool    // result as one text block, no structuredContent and no output schema
	handler  Handler // innermost handler: decode arguments, call the typed function
	err      error   // construction error, reported by Registry.Add
}

// Name returns the tool's name ("" for the zero Tool).
func (t Tool) Name() string {
	if t.t == nil {
		return ""
	}
	return t.t.def.Name
}

// Definition returns a copy of the MCP tool definition (name, description, annotations,
// input schema) as it is listed to clients.
func (t Tool) Definition() mcp.Tool {
	if t.t == nil {
		return mcp.Tool{}
	}
	return *t.t.def
}

// Toolsets returns the toolsets the tool belongs to.
func (t Tool) Toolsets() []string {
	if t.t == nil {
		return nil
	}
	return slices.Clone(t.t.toolsets)
}

// Option configures a tool built by [New].
type Option func(*toolConfig)

type toolConfig struct {
	ann      mcp.ToolAnnotations
	toolsets []string
	textOnly bool
	params   []func(props map[string]*jsonschema.Schema) error
}

// ReadOnly marks the tool as not modifying its environment (readOnlyHint). Read-only tools are
// also idempotent and not destructive.
func ReadOnly() Option {
	return func(c *toolConfig) {
		c.ann.ReadOnlyHint = true
		c.ann.IdempotentHint = true
		c.ann.DestructiveHint = new(false)
	}
}

// Destructive sets destructiveHint: whether the tool may delete or overwrite (true) or only
// adds and updates (false). MCP assumes true for a tool that is not read-only.
func Destructive(destructive bool) Option {
	return func(c *toolConfig) { c.ann.DestructiveHint = new(destructive) }
}

// Idempotent sets idempotentHint: calling again with the same arguments has no further effect.
func Idempotent() Option {
	return func(c *toolConfig) { c.ann.IdempotentHint = true }
}

// OpenWorld sets openWorldHint: whether the tool reaches outside a closed domain (the web)
// or not (a database it owns). MCP assumes true; agentmv's tools set false.
func OpenWorld(open bool) Option {
	return func(c *toolConfig) { c.ann.OpenWorldHint = new(open) }
}

// Title sets the human-readable title annotation.
func Title(title string) Option {
	return func(c *toolConfig) { c.ann.Title = title }
}

// TextOnly sends results as one JSON text block, without the structuredContent copy and
// without an output schema (MCP requires structuredContent from a tool that declares one).
// agentmv's own tools never use it: clients validate and use structuredContent, and the text
// block shares its bytes. A host may, for a tool whose clients read only text.
func TextOnly() Option {
	return func(c *toolConfig) { c.textOnly = true }
}

// InToolset tags the tool with toolset names (for example [ToolsetRuntime]); see
// [Registry.Toolset].
func InToolset(names ...string) Option {
	return func(c *toolConfig) { c.toolsets = append(c.toolsets, names...) }
}

// Param adjusts the reflected schema of one input property: a description, a default, bounds.
// Use it when struct tags cannot say it (computed defaults, settings-dependent maxima). The
// property name is the JSON name; an unknown name makes Registry.Add fail.
func Param(name string, opts ...ParamOption) Option {
	return func(c *toolConfig) {
		c.params = append(c.params, func(props map[string]*jsonschema.Schema) error {
			s, ok := props[name]
			if !ok || s == nil {
				return fmt.Errorf("Param(%q): the input type has no such property", name)
			}
			for _, o := range opts {
				o(s)
			}
			return nil
		})
	}
}

// ParamOption changes one property schema; see [Param].
type ParamOption func(*jsonschema.Schema)

// Description sets the property's description.
func Description(text string) ParamOption {
	return func(s *jsonschema.Schema) { s.Description = text }
}

// Default sets the property's default, applied to missing arguments before the handler runs.
func Default(v any) ParamOption {
	return func(s *jsonschema.Schema) { s.Default = v }
}

// Range sets inclusive numeric bounds (minimum, maximum), enforced before the handler runs.
func Range(minimum, maximum float64) ParamOption {
	return func(s *jsonschema.Schema) {
		s.Minimum = json.Number(fmt.Sprint(minimum))
		s.Maximum = json.Number(fmt.Sprint(maximum))
	}
}

// New builds a typed tool. In must be a struct (its JSON fields are the tool's arguments; an
// empty struct for a tool without arguments); its schema is reflected with invopop/jsonschema,
// so `jsonschema:"description=...,default=...,minimum=...,maximum=..."` tags apply, and
// fields without `omitempty` are required. Out is serialized to JSON once, as the tool result:
// structuredContent and a text block with the same bytes. When Out is a struct (or a map with
// string keys) the tool declares an output schema, inferred from Out the way go-sdk infers
// one (google/jsonschema-go: json names, `omitempty` fields optional, pointers and slices may
// be null), then opened up (see openOutputSchema) and trimmed to the fields every result has
// (`omitempty` fields are left out of it; see trimOutputSchema); a `jsonschema` tag on an Out
// field is its description. An Out with a custom MarshalJSON must keep the shape of its
// fields. Any other Out (a slice, a scalar, any) is sent as text only, without an output
// schema.
//
// The handler's error is returned to the agent as a [ToolError] (see [AsToolError]); a panic
// becomes an [ErrInternal] ToolError. Errors in the definition (In not a struct, a bad Param)
// are reported by [Registry.Add].
func New[In, Out any](name, description string, handler func(ctx context.Context, in In) (Out, error), opts ...Option) Tool {
	t := &tool{def: &mcp.Tool{Name: name, Description: description}}
	var cfg toolConfig
	for _, o := range opts {
		o(&cfg)
	}
	t.toolsets = cfg.toolsets
	t.textOnly = cfg.textOnly
	ann := cfg.ann
	t.def.Annotations = &ann
	if name == "" {
		t.err = fmt.Errorf("tools.New: empty tool name")
		return Tool{t}
	}
	if handler == nil {
		t.err = fmt.Errorf("tools.New(%q): nil handler", name)
		return Tool{t}
	}
	schema, resolved, err := reflectInput[In](cfg.params)
	if err != nil {
		t.err = fmt.Errorf("tools.New(%q): input schema: %w", name, err)
		return Tool{t}
	}
	t.def.InputSchema = schema
	t.resolved = resolved
	if !cfg.textOnly {
		out, err := reflectOutput[Out]()
		if err != nil {
			t.err = fmt.Errorf("tools.New(%q): output schema: %w", name, err)
			return Tool{t}
		}
		if out != nil {
			t.def.OutputSchema = out
		} else {
			t.textOnly = true
		}
	}
	fast := compileFastInput(reflect.TypeFor[In](), schema)
	t.handler = func(ctx context.Context, call *Call) (any, error) {
		in, err := decodeInput[In](call.Arguments, fast, resolved, name)
		if err != nil {
			return nil, err
		}
		out, err := handler(ctx, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return Tool{t}
}

// decodeInput validates the raw arguments against the input schema (defaults applied) and
// decodes them into In, by fast when it can tell they are valid, else by the general path,
// which decides and words the error.
func decodeInput[In any](raw json.RawMessage, fast *fastInput, resolved *gjs.Resolved, tool string) (In, error) {
	var in In
	if fast != nil && fast.decode(raw, reflect.ValueOf(&in).Elem()) {
		return in, nil
	}
	in = *new(In) // the shortcut may have filled part of it
	args, err := applyInputSchema(raw, resolved)
	if err != nil {
		return in, &ToolError{ErrorType: ErrInvalidArgument, Err: err,
			Message: fmt.Sprintf("invalid arguments for %s: %s", tool, schemaErrorText(err)),
			Hint:    "check the tool's input schema (tools/list) and call again"}
	}
	if err := json.Unmarshal(args, &in); err != nil {
		return in, &ToolError{ErrorType: ErrInvalidArgument, Err: err,
			Message: fmt.Sprintf("invalid arguments for %s: %v", tool, err),
			Hint:    "check the tool's input schema (tools/list) and call again"}
	}
	return in, nil
}

// reflectInput reflects In into the input schema: invopop with ExpandedStruct (the root is the
// object itself, not a $ref) and DoNotReference (nested types inline), then converted into
// the SDK's schema type so that it is listed and validated exactly as resolved here.
func reflectInput[In any](params []func(map[string]*jsonschema.Schema) error) (*gjs.Schema, *gjs.Resolved, error) {
	rt := reflect.TypeFor[In]()
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	if rt.Kind() != reflect.Struct {
		return nil, nil, fmt.Errorf("input type %v must be a struct (MCP needs an object schema)", rt)
	}
	r := &jsonschema.Reflector{ExpandedStruct: true, DoNotReference: true, Anonymous: true}
	s := r.ReflectFromType(rt)
	s.Version = "" // "$schema": the SDK assumes 2020-12; saves tokens in tools/list
	if s.Type != "object" {
		return nil, nil, fmt.Errorf("reflected schema of %v has type %q, want object", rt, s.Type)
	}
	props := map[string]*jsonschema.Schema{}
	if s.Properties != nil {
		for p := s.Properties.Oldest(); p != nil; p = p.Next() {
			props[p.Key] = p.Value
		}
	} else if len(params) > 0 {
		return nil, nil, fmt.Errorf("Param given but %v has no fields", rt)
	}
	for _, p := range params {
		if err := p(props); err != nil {
			return nil, nil, err
		}
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, nil, err
	}
	var out gjs.Schema
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, nil, fmt.Errorf("convert schema: %w", err)
	}
	if out.Type != "object" {
		return nil, nil, fmt.Errorf("root schema type %q, want object", out.Type)
	}
	if out.Properties == nil {
		out.Properties = map[string]*gjs.Schema{} // list `"properties": {}` for argument-less tools
	}
	resolved, err := out.Resolve(&gjs.ResolveOptions{ValidateDefaults: true})
	if err != nil {
		return nil, nil, err
	}
	return &out, resolved, nil
}

// outputTypeSchemas are the schemas of output types whose JSON is not what their Go kind
// says (json.RawMessage is any JSON value, not an array of bytes; json.Number is a number).
var outputTypeSchemas = map[reflect.Type]*gjs.Schema{
	reflect.TypeFor[json.RawMessage](): {},
	reflect.TypeFor[json.Number]():     {Type: "number"},
}

// reflectOutput infers the output schema of Out with google/jsonschema-go, as go-sdk's own
// AddTool does. It returns nil when Out's JSON is not an object (no output schema then).
func reflectOutput[Out any]() (*gjs.Schema, error) {
	rt := reflect.TypeFor[Out]()
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	if rt.Kind() != reflect.Struct && rt.Kind() != reflect.Map {
		return nil, nil
	}
	s, err := gjs.ForType(rt, &gjs.ForOptions{TypeSchemas: outputTypeSchemas})
	if err != nil {
		return nil, err
	}
	if s.Type != "object" {
		return nil, nil
	}
	openOutputSchema(s)
	trimOutputSchema(s)
	if _, err := s.Resolve(nil); err != nil {
		return nil, err
	}
	return s, nil
}

// openOutputSchema removes, throughout s, what would make a result from a newer server fail
// a client's validation against a schema it listed earlier, and what only costs tokens:
// "additionalProperties: false" (a field added later is fine) and the integer bounds of
// sized Go integers (int32 and the like). Types, required properties and nullability stay.
func openOutputSchema(s *gjs.Schema) {
	if s == nil {
		return
	}
	if reflect.DeepEqual(s.AdditionalProperties, &gjs.Schema{Not: &gjs.Schema{}}) {
		s.AdditionalProperties = nil // google/jsonschema-go writes false as {"not": {}}
	}
	if s.Type == "integer" {
		s.Minimum, s.Maximum = nil, nil
	}
	for _, p := range s.Properties {
		openOutputSchema(p)
	}
	openOutputSchema(s.Items)
	openOutputSchema(s.AdditionalProperties)
}

// trimOutputSchema removes, throughout s, the properties a result may lack (`omitempty`
// fields): the schema lists what every result has, with its types and nullability, and an
// optional field shows up in the results where it applies. Results still validate (extra
// properties are allowed, see openOutputSchema), and tools/list stays within its token
// budget (describe_view's freshness alone has some twenty optional fields).
func trimOutputSchema(s *gjs.Schema) {
	if s == nil {
		return
	}
	for name, p := range s.Properties {
		if !slices.Contains(s.Required, name) {
			delete(s.Properties, name)
			continue
		}
		trimOutputSchema(p)
	}
	trimOutputSchema(s.Items)
	trimOutputSchema(s.AdditionalProperties)
}

// applyInputSchema validates raw arguments against the resolved schema after applying its
// defaults, and returns the arguments with defaults filled in.
func applyInputSchema(raw json.RawMessage, resolved *gjs.Resolved) (json.RawMessage, error) {
	m := map[string]any{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("arguments must be a JSON object: %w", err)
		}
	}
	if m == nil { // " null " (null with spaces) as "null": no arguments, not a panic in ApplyDefaults
		m = map[string]any{}
	}
	if err := resolved.ApplyDefaults(&m); err != nil {
		return nil, err
	}
	if err := resolved.Validate(&m); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}
