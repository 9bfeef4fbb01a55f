package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

type echoIn struct {
	Name  string `json:"name" jsonschema:"description=Name of the thing to echo"`
	Limit int    `json:"limit,omitempty" jsonschema:"description=Most items to return,default=1000,minimum=1,maximum=10000"`
}

type echoOut struct {
	Name  string `json:"name"`
	Limit int    `json:"limit"`
}

func echoTool(opts ...tools.Option) tools.Tool {
	return tools.New("echo", "Echo the arguments back.", func(_ context.Context, in echoIn) (echoOut, error) {
		return echoOut(in), nil
	}, opts...)
}

type noArgs struct{}

// testRegistry holds one tool of each behaviour the tests need.
func testRegistry(t *testing.T) *tools.Registry {
	t.Helper()
	reg := tools.NewRegistry()
	err := reg.Add(
		echoTool(tools.ReadOnly(), tools.OpenWorld(false), tools.InToolset(tools.ToolsetRuntime)),
		tools.New("boom", "Always panics.", func(context.Context, noArgs) (any, error) {
			panic("kaboom")
		}, tools.InToolset(tools.ToolsetRuntime)),
		tools.New("refuse", "Always refuses.", func(context.Context, noArgs) (any, error) {
			return nil, tools.NewError(tools.ErrNotAllowed, "no", "ask nicely")
		}, tools.Destructive(false), tools.Idempotent(), tools.InToolset(tools.ToolsetSetup)),
		tools.New("pgfail", "Fails like Postgres.", func(context.Context, noArgs) (any, error) {
			return nil, &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}
		}, tools.InToolset(tools.ToolsetSetup)),
		tools.New("list", "Returns a list.", func(context.Context, noArgs) ([]string, error) {
			return []string{"a", "b"}, nil
		}),
	)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	return reg
}

// session mounts reg on a fresh go-sdk server and connects a client over in-memory transports.
func session(t *testing.T, reg *tools.Registry) *mcp.ClientSession {
	t.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	reg.Mount(server)
	return mcpclient.Connect(t, server, nil)
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("CallTool(%s) protocol error: %v", name, err)
	}
	checkStructured(t, cs, name, res)
	return res
}

func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("want 1 content block, got %d", len(res.Content))
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("content is %T, want text", res.Content[0])
	}
	return tc.Text
}

func toolErr(t *testing.T, res *mcp.CallToolResult) tools.ToolError {
	t.Helper()
	if !res.IsError {
		t.Fatalf("want isError, got result %s", text(t, res))
	}
	var te tools.ToolError
	dec := json.NewDecoder(strings.NewReader(text(t, res)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&te); err != nil {
		t.Fatalf("error content is not the {error_type,message,hint} envelope: %v", err)
	}
	if te.Message == "" || te.Hint == "" {
		t.Fatalf("envelope misses message or hint: %+v", te)
	}
	return te
}

func TestListToolsSchemasAndAnnotations(t *testing.T) {
	cs := session(t, testRegistry(t))
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]*mcp.Tool{}
	for _, tl := range lt.Tools {
		names = append(names, tl.Name)
		byName[tl.Name] = tl
	}
	if diff := cmp.Diff([]string{"boom", "echo", "list", "pgfail", "refuse"}, names); diff != "" {
		t.Errorf("tool names (-want +got):\n%s", diff)
	}
	for _, tl := range lt.Tools {
		schema := map[string]any{}
		b, err := json.Marshal(tl.InputSchema)
		if err == nil {
			err = json.Unmarshal(b, &schema)
		}
		if err != nil {
			t.Fatalf("%s: input schema does not round-trip through JSON: %v", tl.Name, err)
		}
		if schema["type"] != "object" {
			t.Errorf("%s: input schema root type = %v, want object", tl.Name, schema["type"])
		}
		if _, ok := schema["$ref"]; ok {
			t.Errorf("%s: root is a $ref, want the object inline", tl.Name)
		}
	}

	// The golden file pins the whole wire form: schema keywords from struct tags and hints.
	got, err := json.MarshalIndent(lt.Tools, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckGolden(t, filepath.Join("testdata", "tools_list.json"), got)

	echo := byName["echo"]
	a := echo.Annotations
	if a == nil || !a.ReadOnlyHint || !a.IdempotentHint || a.DestructiveHint == nil || *a.DestructiveHint ||
		a.OpenWorldHint == nil || *a.OpenWorldHint {
		t.Errorf("echo annotations = %+v, want read-only, idempotent, not destructive, closed world", a)
	}
	ref := byName["refuse"].Annotations
	if ref.ReadOnlyHint || !ref.IdempotentHint || ref.DestructiveHint == nil || *ref.DestructiveHint {
		t.Errorf("refuse annotations = %+v, want idempotent, not destructive, not read-only", ref)
	}
}

func TestCallResultsAndErrors(t *testing.T) {
	cs := session(t, testRegistry(t))

	t.Run("defaults applied and structured content", func(t *testing.T) {
		res := call(t, cs, "echo", map[string]any{"name": "x"})
		if res.IsError {
			t.Fatalf("unexpected error: %s", text(t, res))
		}
		if got, want := text(t, res), `{"name":"x","limit":1000}`; got != want {
			t.Errorf("text = %s, want %s", got, want)
		}
		if diff := cmp.Diff(map[string]any{"name": "x", "limit": float64(1000)}, res.StructuredContent); diff != "" {
			t.Errorf("structuredContent (-want +got):\n%s", diff)
		}
	})
	t.Run("TextOnly tool has no structured copy", func(t *testing.T) {
		r := tools.NewRegistry()
		if err := r.Add(echoTool(tools.TextOnly())); err != nil {
			t.Fatal(err)
		}
		res := call(t, session(t, r), "echo", map[string]any{"name": "x"})
		if res.IsError || text(t, res) != `{"name":"x","limit":1000}` || res.StructuredContent != nil {
			t.Errorf("result = %+v", res)
		}
	})
	t.Run("non-object output is text only", func(t *testing.T) {
		res := call(t, cs, "list", nil)
		if res.IsError || text(t, res) != `["a","b"]` || res.StructuredContent != nil {
			t.Errorf("list result = %+v", res)
		}
	})

	cases := []struct {
		name     string
		tool     string
		args     any
		wantType string
		wantMsg  string
	}{
		{"missing required", "echo", map[string]any{}, tools.ErrInvalidArgument, "missing required argument name"},
		{"above maximum", "echo", map[string]any{"name": "x", "limit": 10001}, tools.ErrInvalidArgument, "limit must be at most 10000 (got 10001)"},
		{"below minimum", "echo", map[string]any{"name": "x", "limit": 0}, tools.ErrInvalidArgument, "limit must be at least 1 (got 0)"},
		{"wrong type", "echo", map[string]any{"name": 3}, tools.ErrInvalidArgument, "name must be of type string, not integer"},
		{"unknown property", "echo", map[string]any{"name": "x", "sql": "drop"}, tools.ErrInvalidArgument, "sql"},
		{"panic", "boom", nil, tools.ErrInternal, "kaboom"},
		{"tool error passes through", "refuse", nil, tools.ErrNotAllowed, "no"},
		{"pg error mapped", "pgfail", nil, tools.ErrTimeout, "SQLSTATE 57014"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			te := toolErr(t, call(t, cs, tc.tool, tc.args))
			if te.ErrorType != tc.wantType || !strings.Contains(te.Message, tc.wantMsg) {
				t.Errorf("got %+v, want type %s and message containing %q", te, tc.wantType, tc.wantMsg)
			}
		})
	}

	// The server survived the panic.
	if res := call(t, cs, "echo", map[string]any{"name": "after"}); res.IsError {
		t.Errorf("server broken after panic: %s", text(t, res))
	}
}

func TestAddRejects(t *testing.T) {
	type notStruct = int
	cases := []struct {
		name  string
		setup func(*tools.Registry) error
		want  string
	}{
		{"duplicate in one call", func(r *tools.Registry) error { return r.Add(echoTool(), echoTool()) }, `duplicate tool name "echo"`},
		{"duplicate across calls", func(r *tools.Registry) error {
			if err := r.Add(echoTool()); err != nil {
				return err
			}
			return r.Add(echoTool())
		}, `duplicate tool name "echo"`},
		{"input not a struct", func(r *tools.Registry) error {
			return r.Add(tools.New("n", "d", func(context.Context, notStruct) (any, error) { return nil, nil }))
		}, "must be a struct"},
		{"unknown Param", func(r *tools.Registry) error {
			return r.Add(echoTool(tools.Param("nope", tools.Description("x"))))
		}, `Param("nope")`},
		{"zero tool", func(r *tools.Registry) error { return r.Add(tools.Tool{}) }, "zero Tool"},
		{"empty name", func(r *tools.Registry) error {
			return r.Add(tools.New("", "d", func(context.Context, noArgs) (any, error) { return nil, nil }))
		}, "empty tool name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tools.NewRegistry()
			err := tc.setup(r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
	// A failed Add adds nothing.
	r := tools.NewRegistry()
	_ = r.Add(tools.New("ok", "d", func(context.Context, noArgs) (any, error) { return nil, nil }), echoTool(), echoTool())
	if n := r.Names(); len(n) != 0 {
		t.Errorf("failed Add left tools %v", n)
	}
}

func TestParamOverridesTags(t *testing.T) {
	r := tools.NewRegistry()
	if err := r.Add(echoTool(tools.Param("limit", tools.Description("Rows, at most 50."), tools.Default(10), tools.Range(1, 50)))); err != nil {
		t.Fatal(err)
	}
	cs := session(t, r)
	res := call(t, cs, "echo", map[string]any{"name": "x"})
	if got := text(t, res); got != `{"name":"x","limit":10}` {
		t.Errorf("default from Param not applied: %s", got)
	}
	te := toolErr(t, call(t, cs, "echo", map[string]any{"name": "x", "limit": 51}))
	if te.ErrorType != tools.ErrInvalidArgument {
		t.Errorf("limit 51 accepted: %+v", te)
	}
	tl, _ := r.Get("echo")
	b, _ := json.Marshal(tl.Definition().InputSchema)
	if !strings.Contains(string(b), `"description":"Rows, at most 50."`) {
		t.Errorf("description not overridden: %s", b)
	}
}

func TestSelectAndToolset(t *testing.T) {
	reg := testRegistry(t)
	sel, err := reg.Select("echo", "refuse")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"echo", "refuse"}, sel.Names()); diff != "" {
		t.Errorf("Select (-want +got):\n%s", diff)
	}
	if _, err := reg.Select("echo", "ecoh"); err == nil || !strings.Contains(err.Error(), `"ecoh"`) {
		t.Errorf("Select of unknown name: err = %v", err)
	}
	if diff := cmp.Diff([]string{"boom", "echo"}, reg.Toolset(tools.ToolsetRuntime).Names()); diff != "" {
		t.Errorf("runtime toolset (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pgfail", "refuse"}, reg.Toolset(tools.ToolsetSetup).Names()); diff != "" {
		t.Errorf("setup toolset (-want +got):\n%s", diff)
	}
	if n := reg.Toolset("nope").Names(); len(n) != 0 {
		t.Errorf("unknown toolset = %v", n)
	}

	// Only the selected tools are mounted; a host tool added to the selection works too.
	host := tools.New("host_tool", "The host's own tool.", func(context.Context, noArgs) (string, error) { return "hi", nil })
	if err := sel.Add(host); err != nil {
		t.Fatal(err)
	}
	cs := session(t, sel)
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range lt.Tools {
		names = append(names, tl.Name)
	}
	if diff := cmp.Diff([]string{"echo", "host_tool", "refuse"}, names); diff != "" {
		t.Errorf("mounted tools (-want +got):\n%s", diff)
	}
	if _, ok := reg.Get("host_tool"); ok {
		t.Errorf("adding to a selection changed the original registry")
	}
	if res := call(t, cs, "host_tool", nil); res.IsError || text(t, res) != `"hi"` {
		t.Errorf("host tool result = %+v", res)
	}
}

type record struct {
	tool      string
	errorType string
	took      time.Duration
	sawMCP    bool
}

func TestMiddlewareSeesEveryCall(t *testing.T) {
	reg := testRegistry(t)
	var (
		mu    sync.Mutex
		log   []record
		order []string
	)
	reg.Use(func(next tools.Handler) tools.Handler {
		return func(ctx context.Context, c *tools.Call) (any, error) {
			order = append(order, "outer")
			start := time.Now()
			out, err := next(ctx, c)
			mu.Lock()
			log = append(log, record{c.Tool, tools.ErrorTypeOf(err), time.Since(start), c.Request != nil})
			mu.Unlock()
			return out, err
		}
	}, func(next tools.Handler) tools.Handler {
		return func(ctx context.Context, c *tools.Call) (any, error) {
			order = append(order, "inner")
			return next(ctx, c)
		}
	})
	cs := session(t, reg)
	call(t, cs, "echo", map[string]any{"name": "x"})
	call(t, cs, "echo", map[string]any{})
	call(t, cs, "boom", nil)
	call(t, cs, "refuse", nil)
	call(t, cs, "pgfail", nil)
	// Registry.Call goes through the same chain, without an MCP request.
	if res := reg.Call(context.Background(), "echo", json.RawMessage(`{"name":"direct"}`)); res.IsError {
		t.Fatalf("direct call failed: %+v", res)
	}

	got := make([][3]any, len(log))
	for i, r := range log {
		got[i] = [3]any{r.tool, r.errorType, r.sawMCP}
		if r.took <= 0 {
			t.Errorf("call %d: duration %v", i, r.took)
		}
	}
	want := [][3]any{
		{"echo", "", true},
		{"echo", tools.ErrInvalidArgument, true},
		{"boom", tools.ErrInternal, true},
		{"refuse", tools.ErrNotAllowed, true},
		{"pgfail", tools.ErrTimeout, true},
		{"echo", "", false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("middleware log (-want +got):\n%s", diff)
	}
	if strings.Join(order[:2], ",") != "outer,inner" {
		t.Errorf("middleware order = %v, want first Use outermost", order[:2])
	}
}

func TestPanickingMiddlewareIsContained(t *testing.T) {
	reg := testRegistry(t)
	reg.Use(func(tools.Handler) tools.Handler {
		return func(context.Context, *tools.Call) (any, error) { panic(errors.New("bad middleware")) }
	})
	te := toolErr(t, call(t, session(t, reg), "echo", map[string]any{"name": "x"}))
	if te.ErrorType != tools.ErrInternal {
		t.Errorf("got %+v", te)
	}
}

func TestCallUnknownTool(t *testing.T) {
	res := testRegistry(t).Call(context.Background(), "nope", nil)
	te := toolErr(t, res)
	if te.ErrorType != tools.ErrInvalidArgument || !strings.Contains(te.Hint, "echo") {
		t.Errorf("got %+v", te)
	}
}
