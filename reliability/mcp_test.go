package reliability_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/internal/testutil"
)

// mcpProject is the bad-input base project (views a and b over public.t), applied.
func mcpProject(t *testing.T) *project {
	pr := newProject(t, badSeed)
	pr.write("materialize.yaml", badYAML)
	pr.write("materialize/a.sql", badA)
	pr.write("materialize/b.sql", badB)
	pr.mustRun("apply", "--yes")
	return pr
}

// lockedLog collects a subprocess's stderr lines.
type lockedLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// httpServer is a running `agent-mv mcp runtime --http` subprocess.
type httpServer struct {
	url string // http://127.0.0.1:PORT/mcp
	pid int
	log *lockedLog
}

// startHTTPServer starts the runtime MCP server over streamable HTTP on a free loopback port;
// it is stopped (SIGTERM) at the end of the test. extraEnv is added to the project's env.
func startHTTPServer(t *testing.T, pr *project, extraEnv []string, args ...string) *httpServer {
	t.Helper()
	cmd := pr.command(context.Background(), append([]string{"mcp", "runtime", "--http", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(cmd.Env, extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	srv := &httpServer{pid: cmd.Process.Pid, log: &lockedLog{}}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			srv.log.mu.Lock()
			srv.log.lines = append(srv.log.lines, line)
			srv.log.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "serving MCP on "); ok {
				ready <- rest
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(testutil.Wait):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("the MCP server did not stop within %s of SIGTERM", testutil.Wait)
		}
	})
	select {
	case srv.url = <-ready:
	case <-time.After(testutil.Wait):
		t.Fatalf("the MCP server did not start within %s:\n%s", testutil.Wait, srv.log)
	}
	return srv
}

// httpSession connects an MCP client to srv over streamable HTTP.
func httpSession(t *testing.T, url string, client *http.Client) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Wait)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "reliability"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: client, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// stdioSession starts `agent-mv mcp runtime [args]` as a stdio subprocess and connects to it.
func stdioSession(t *testing.T, pr *project, args ...string) *mcp.ClientSession {
	t.Helper()
	cmd := exec.Command(agentMV(t), append([]string{"--config", pr.yamlPath(), "mcp", "runtime"}, args...)...) // builds once, before the deadline starts
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Wait)
	defer cancel()
	cmd.Dir, cmd.Env = pr.dir, pr.env()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "reliability"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("start the stdio runtime server: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// toolResult is one tool call's outcome: a protocol error, a tool error envelope, or JSON.
type toolResult struct {
	err       error
	errorType string
	text      string
	elapsed   time.Duration
}

func callTool(ctx context.Context, cs *mcp.ClientSession, name string, args map[string]any) toolResult {
	start := time.Now()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	out := toolResult{err: err, elapsed: time.Since(start)}
	if err != nil {
		return out
	}
	if len(res.Content) > 0 {
		if tc, ok := res.Content[0].(*mcp.TextContent); ok {
			out.text = tc.Text
		}
	}
	if res.IsError {
		var env struct {
			ErrorType string `json:"error_type"`
		}
		if json.Unmarshal([]byte(out.text), &env) != nil || env.ErrorType == "" {
			out.errorType = "(no envelope)"
		} else {
			out.errorType = env.ErrorType
		}
	}
	return out
}

func (r toolResult) String() string {
	if r.err != nil {
		return "protocol error: " + r.err.Error()
	}
	if r.errorType != "" {
		return "tool error " + r.errorType + ": " + r.text
	}
	return "ok: " + r.text
}
