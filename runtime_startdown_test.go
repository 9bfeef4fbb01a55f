package agentmv_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/tools"
)

// forwarder relays TCP connections from its address to target; until started, nothing
// listens on its address (connections are refused, as when Postgres is down).
type forwarder struct {
	addr, target string
	mu           sync.Mutex
	l            net.Listener
}

func newForwarder(t *testing.T, target string) *forwarder {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{addr: l.Addr().String(), target: target}
	l.Close()
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.l != nil {
			f.l.Close()
		}
	})
	return f
}

func (f *forwarder) start(t *testing.T) {
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", f.addr, err)
	}
	f.mu.Lock()
	f.l = l
	f.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", f.target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
}

// TestRuntimeStartsWhilePostgresIsDown: OpenRuntime (what `agent-mv mcp runtime` and
// agent-materialize-runtime-mcp call) starts when Postgres is unreachable, every tool
// answers "unavailable" while it is, and once Postgres is reachable the runtime role is
// checked and the tools work, without a restart. A wrong password still stops the start-up.
func TestRuntimeStartsWhilePostgresIsDown(t *testing.T) {
	ctx := context.Background()
	pr := demoProject(t)
	pr.apply()
	u, err := url.Parse(pr.settings.RuntimeURL)
	if err != nil {
		t.Fatal(err)
	}
	fw := newForwarder(t, u.Host)
	u.Host = fw.addr
	q := u.Query()
	q.Set("connect_timeout", "10")
	u.RawQuery = q.Encode()

	rt, err := agentmv.OpenRuntime(ctx, u.String(), agentmv.RuntimeOptions{})
	if err != nil {
		t.Fatalf("OpenRuntime with Postgres down: %v (want the server to start)", err)
	}
	defer rt.Close()
	for _, tool := range []string{tools.ToolListViews, tools.ToolQueryView} {
		args := `{}`
		if tool == tools.ToolQueryView {
			args = `{"sql": "SELECT count(*) FROM customer_rollup"}`
		}
		res := rt.Tools().Call(ctx, tool, []byte(args))
		text := res.Content[0].(*mcp.TextContent).Text
		if !res.IsError || !strings.Contains(text, `"error_type":"unavailable"`) || strings.Contains(text, runtimePassword) {
			t.Errorf("%s while Postgres is down: %s", tool, text)
		}
	}

	fw.start(t)
	lv := callTool[tools.ListViewsOutput](t, rt.Tools(), tools.ToolListViews, nil)
	if len(lv.Views) != 3 {
		t.Errorf("list_views once Postgres is up: %+v", lv)
	}

	bad := *u
	bad.User = url.UserPassword(pr.settings.RuntimeRole, "Wrong-pw_1")
	if _, err := agentmv.OpenRuntime(ctx, bad.String(), agentmv.RuntimeOptions{}); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("OpenRuntime with a wrong password = %v, want it to stop with the login error", err)
	}
}
