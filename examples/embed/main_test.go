package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/test/mcpclient"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestHostServesItsToolAndAgentmvs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := mcpclient.Setup(t)
	rt, err := agentmv.OpenRuntime(ctx, env.RuntimeURL, agentmv.RuntimeOptions{Schema: env.Names.Schema})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := newServer(rt).Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cs.Close(); ss.Wait() }()
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range lt.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	if want := []string{"clock", "describe_view", "get_lineage", "list_views", "query_view", "refresh_view"}; !slices.Equal(names, want) {
		t.Fatalf("tools = %v, want %v", names, want)
	}
	for _, c := range []struct{ tool, want string }{{"clock", `"now":`}, {"list_views", `"customer_rollup"`}} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: c.tool, Arguments: map[string]any{}})
		if err != nil || res.IsError {
			t.Fatalf("%s: %v %+v", c.tool, err, res)
		}
		if got := res.Content[0].(*mcp.TextContent).Text; !strings.Contains(got, c.want) {
			t.Errorf("%s = %s, want %s", c.tool, got, c.want)
		}
	}
}

func TestOpenRuntimeRefusesTheAdmin(t *testing.T) {
	t.Parallel()
	env := mcpclient.Setup(t)
	_, err := agentmv.OpenRuntime(context.Background(), env.DB.AdminURL, agentmv.RuntimeOptions{})
	if err == nil || !strings.Contains(err.Error(), "superuser") || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("OpenRuntime as the admin: %v", err)
	}
}
