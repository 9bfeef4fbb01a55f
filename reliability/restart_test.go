package reliability_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/internal/testutil"
)

// runtimeCalls is one call of each runtime tool.
var runtimeCalls = []struct {
	tool string
	args map[string]any
}{
	{"list_views", map[string]any{}},
	{"describe_view", map[string]any{"name": "a"}},
	{"query_view", map[string]any{"sql": "SELECT name, total FROM b ORDER BY name", "limit": 10}},
	{"refresh_view", map[string]any{"name": "b"}},
	{"get_lineage", map[string]any{"name": "b"}},
}

// TestDatabaseRestartUnderMCPServers stops the shared Postgres cluster under a running
// runtime MCP server (one stdio, one streamable HTTP): every call during the outage returns a
// structured `unavailable` error (not a hang until the call's deadline); after the restart the same sessions of the same
// server processes work again at once. It restarts the cluster every test of this binary
// shares, so it must not run in parallel with anything: it does not call t.Parallel, and Go
// starts the parallel tests only after every sequential one has finished.
func TestDatabaseRestartUnderMCPServers(t *testing.T) {
	cluster := pgtest.Cluster()
	if cluster == nil {
		testutil.SkipOrFail(t, "needs the local pgtest cluster (a server from AGENTMV_TEST_DATABASE_URL or a container cannot be restarted)")
	}
	pr := mcpProject(t)
	srv := startHTTPServer(t, pr, nil)
	sessions := map[string]*mcp.ClientSession{
		"stdio": stdioSession(t, pr),
		"http":  httpSession(t, srv.url, http.DefaultClient),
	}
	callAll := func(phase string, check func(transport, tool string, r toolResult)) {
		for transport, cs := range sessions {
			for _, c := range runtimeCalls {
				ctx, cancel := context.WithTimeout(context.Background(), testutil.Wait)
				r := callTool(ctx, cs, c.tool, c.args)
				cancel()
				t.Logf("%s %s %s: %s in %s", phase, transport, c.tool, short(r.String()), r.elapsed.Round(time.Millisecond))
				check(transport, c.tool, r)
			}
		}
	}
	ok := func(transport, tool string, r toolResult) {
		if r.err != nil || r.errorType != "" {
			t.Errorf("%s %s: %s", transport, tool, r)
		}
	}
	callAll("before", ok)

	stopped := time.Now()
	if err := cluster.Stop(); err != nil {
		t.Fatalf("stop the cluster: %v", err)
	}
	restarted := false
	restart := func() {
		if restarted {
			return
		}
		restarted = true
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cluster.Restart(ctx); err != nil {
			t.Fatalf("restart the cluster: %v", err)
		}
	}
	t.Cleanup(restart) // other tests need the cluster even if this one fails midway
	t.Logf("cluster stopped in %s", time.Since(stopped).Round(time.Millisecond))

	callAll("outage", func(transport, tool string, r toolResult) {
		if r.err != nil {
			t.Errorf("%s %s during the outage: a protocol error instead of a tool error: %v", transport, tool, r.err)
			return
		}
		if r.errorType != "unavailable" {
			t.Errorf("%s %s during the outage: %s, want error_type unavailable", transport, tool, r)
		}
	})

	start := time.Now()
	restart()
	t.Logf("cluster restarted in %s", time.Since(start).Round(time.Millisecond))
	callAll("after", ok)
	callAll("again", ok)
}

func short(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}
