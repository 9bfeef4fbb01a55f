package tools

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/trace"
)

// Call is one tool invocation as seen by a [Handler] and by middleware.
type Call struct {
	// Tool is the tool's name.
	Tool string
	// Arguments are the raw JSON arguments as received (before defaults and validation).
	Arguments json.RawMessage
	// Request is the MCP request when the call came through an MCP session (nil for
	// [Registry.Call] used directly). Middleware can read the session, headers and
	// TokenInfo from it.
	Request *mcp.CallToolRequest
}

// Handler runs a call and returns the tool's output (any JSON-serializable value) or an error.
// Errors are converted with [AsToolError] after the middleware chain, so middleware sees the
// handler's error as returned (use [ErrorTypeOf] to label it).
type Handler func(ctx context.Context, call *Call) (any, error)

// Middleware wraps every call of a registry: audit logs, metrics (name, duration, error
// type), rate limits. The first middleware passed to [Registry.Use] is the outermost.
type Middleware func(next Handler) Handler

// Registry is a set of tools with unique names, plus middleware. It has no global state: a
// host builds one (or gets one from agentmv), adds its own tools if it likes, narrows it with
// [Registry.Select] or [Registry.Toolset], and mounts it on its go-sdk server. Methods are
// safe for concurrent use.
type Registry struct {
	mu         sync.RWMutex
	tools      map[string]*tool
	middleware []Middleware
	observers  []Observer
	tracer     trace.Tracer // nil: calls are not traced (SetTracerProvider)
	agent      string
	servers    []*mcp.Server // where Mount put the tools (SetDeclaredTools updates them)
	declared   *declaredSet  // RuntimeTools' declared tools (sqltool_runtime.go)
	prompts    []Prompt      // served next to the tools (AddPrompts)
	resources  *resources    // served next to the tools (AddViewResources)
	// instructions is what the server tells a client at initialize (SetInstructions).
	instructions string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{tools: map[string]*tool{}}
}

// Add adds tools. It fails, adding none of them, on an invalid tool (its construction error)
// or a name that is already taken.
func (r *Registry) Add(tools ...Tool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, t := range tools {
		if t.t == nil {
			return fmt.Errorf("tools: add: zero Tool; build tools with tools.New")
		}
		if t.t.err != nil {
			return fmt.Errorf("tools: add: %w", t.t.err)
		}
		name := t.t.def.Name
		if _, dup := r.tools[name]; dup || seen[name] {
			return fmt.Errorf("tools: add: duplicate tool name %q; rename one of them or Select the one you want", name)
		}
		seen[name] = true
	}
	for _, t := range tools {
		r.tools[t.t.def.Name] = t.t
	}
	return nil
}

// Get returns the named tool.
func (r *Registry) Get(name string) (Tool, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tools[name]
	return Tool{t}, ok
}

// Names returns the tool names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.tools))
	for n := range r.tools {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Tools returns the tools sorted by name.
func (r *Registry) Tools() []Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Tool, 0, len(r.tools))
	for _, t := range r.tools {
		out = append(out, Tool{t})
	}
	slices.SortFunc(out, func(a, b Tool) int { return cmp.Compare(a.Name(), b.Name()) })
	return out
}

// Select returns a new registry holding only the named tools, with the same middleware. An
// unknown name is an error (a typo must not silently expose nothing, or everything).
func (r *Registry) Select(names ...string) (*Registry, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := &Registry{tools: map[string]*tool{}, middleware: slices.Clone(r.middleware), observers: slices.Clone(r.observers), tracer: r.tracer, agent: r.agent, prompts: slices.Clone(r.prompts), resources: r.resources, instructions: r.instructions}
	for _, n := range names {
		t, ok := r.tools[n]
		if !ok {
			return nil, fmt.Errorf("tools: select: no tool named %q (have %v)", n, r.namesLocked())
		}
		out.tools[n] = t
	}
	return out, nil
}

// Toolset returns a new registry holding the tools tagged with the toolset name (see
// [InToolset]), with the same middleware. It is empty when no tool has the tag.
func (r *Registry) Toolset(name string) *Registry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := &Registry{tools: map[string]*tool{}, middleware: slices.Clone(r.middleware), observers: slices.Clone(r.observers), tracer: r.tracer, agent: r.agent, prompts: slices.Clone(r.prompts), resources: r.resources, instructions: r.instructions}
	for n, t := range r.tools {
		if slices.Contains(t.toolsets, name) {
			out.tools[n] = t
		}
	}
	return out
}

func (r *Registry) namesLocked() []string {
	names := make([]string, 0, len(r.tools))
	for n := range r.tools {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SetInstructions sets what a server built by [NewServer] tells clients at initialize (MCP
// `instructions`: how to use the tools together). RuntimeTools and SetupTools set their own.
func (r *Registry) SetInstructions(text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instructions = text
}

// Instructions returns the text set by [Registry.SetInstructions]. A host mounting the tools
// on its own server may pass it in its mcp.ServerOptions.Instructions.
func (r *Registry) Instructions() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.instructions
}

// Use appends middleware. It applies to calls made after Use returns, including calls to
// tools already mounted.
func (r *Registry) Use(mw ...Middleware) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.middleware = append(r.middleware, mw...)
}

// Mount registers every tool of the registry on server (replacing tools of the same name),
// and its prompts and resources.
// Calls go through the registry's middleware; every failure, including invalid arguments and
// panics, becomes a tool result with isError=true whose content is the [ToolError] JSON.
func (r *Registry) Mount(server *mcp.Server) {
	r.mu.Lock()
	r.servers = append(r.servers, server)
	r.mu.Unlock()
	for _, t := range r.Tools() {
		r.mountTool(server, t.t)
	}
	for _, p := range r.Prompts() {
		server.AddPrompt(p.Def, p.Handler)
	}
	r.mu.RLock()
	res := r.resources
	r.mu.RUnlock()
	if res != nil {
		res.mount(server)
	}
}

func (r *Registry) mountTool(server *mcp.Server, tt *tool) {
	def := *tt.def
	server.AddTool(&def, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args json.RawMessage
		if req != nil && req.Params != nil {
			args = req.Params.Arguments
		}
		return r.call(ctx, tt, &Call{Tool: tt.def.Name, Arguments: args, Request: req}), nil
	})
}

// Call runs the named tool directly (no MCP session), through the middleware, and returns the
// MCP result the client would receive. An unknown name gives an error result, not a Go error.
func (r *Registry) Call(ctx context.Context, name string, args json.RawMessage) *mcp.CallToolResult {
	r.mu.RLock()
	t, ok := r.tools[name]
	r.mu.RUnlock()
	if !ok {
		return errorResult(&ToolError{ErrorType: ErrInvalidArgument,
			Message: fmt.Sprintf("no tool named %q", name),
			Hint:    "call one of: " + fmt.Sprint(r.Names())})
	}
	return r.call(ctx, t, &Call{Tool: name, Arguments: args})
}

func (r *Registry) call(ctx context.Context, t *tool, c *Call) (res *mcp.CallToolResult) {
	start := time.Now()
	r.mu.RLock()
	mws, obs, agent, tracer := r.middleware, r.observers, r.agent, r.tracer
	r.mu.RUnlock()
	var span trace.Span
	if tracer != nil {
		ctx, span = startCallSpan(ctx, tracer, c.Tool)
	}
	var info resultInfo
	if len(obs) > 0 || span != nil {
		defer func() {
			if res != nil && len(res.Content) > 0 {
				if tc, ok := res.Content[0].(*mcp.TextContent); ok {
					info.bytes = len(tc.Text)
				}
			}
			rec := r.record(ctx, agent, c, info, start)
			for _, o := range obs {
				o(ctx, rec)
			}
			if span != nil {
				endCallSpan(span, rec, info.err)
			}
		}()
	}
	defer func() {
		if v := recover(); v != nil { // a panicking middleware
			info.err = newPanicError(c.Tool, v)
			res = errorResult(info.err)
		}
	}()
	h := recoverHandler(t.handler)
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	out, err := h(ctx, c)
	if err != nil {
		info.err = AsToolError(err)
		return errorResult(info.err)
	}
	info.out = out
	res = successResult(out, t.textOnly)
	if res.IsError {
		info.err = &ToolError{ErrorType: ErrInternal}
	}
	return res
}

// recoverHandler turns a panic in the handler into an internal ToolError, inside the
// middleware chain so that middleware records it like any other failure.
func recoverHandler(h Handler) Handler {
	return func(ctx context.Context, c *Call) (out any, err error) {
		defer func() {
			if v := recover(); v != nil {
				out, err = nil, newPanicError(c.Tool, v)
			}
		}()
		return h(ctx, c)
	}
}

// errorResult is the envelope as one text block. It carries no structuredContent: clients
// validate structuredContent against the tool's outputSchema even on errors (the official
// TypeScript client does), and the envelope is not the tool's output.
func errorResult(te *ToolError) *mcp.CallToolResult {
	return &mcp.CallToolResult{
		IsError: true,
		Content: []mcp.Content{&mcp.TextContent{Text: string(te.JSON())}},
	}
}

// selfEncoder is an output that encodes itself without encoding/json re-validating the bytes
// (query results whose rows were encoded from the wire).
type selfEncoder interface {
	encodeJSON() ([]byte, error)
}

// successResult encodes out once; the text block and structuredContent share those bytes.
func successResult(out any, textOnly bool) *mcp.CallToolResult {
	var b []byte
	var err error
	if e, ok := out.(selfEncoder); ok {
		b, err = e.encodeJSON()
	} else {
		b, err = json.Marshal(out)
	}
	if err != nil {
		return errorResult(&ToolError{ErrorType: ErrInternal, Err: err,
			Message: "cannot encode the tool result as JSON: " + err.Error(),
			Hint:    "this is a bug in the tool; report it"})
	}
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}
	if !textOnly && len(b) > 0 && b[0] == '{' { // a nil *Out gives null: text only
		res.StructuredContent = encodedJSON(b)
	}
	return res
}
