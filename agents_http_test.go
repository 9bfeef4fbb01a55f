package agentmv_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/tools"
)

// bearerRT adds an Authorization header to every request.
type bearerRT struct{ token string }

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// TestAgentsOverHTTP serves two agents on one streamable HTTP endpoint: each bearer token
// opens an MCP session on its own agent's role, which lists and queries only its views and is
// refused the other's; a wrong token gets 401; every call writes one audit line naming the
// agent, the tool, the arguments and the outcome.
func TestAgentsOverHTTP(t *testing.T) {
	pr := agentsProject(t)
	pr.apply()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := pr.open().Settings()
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := tools.OpenAuditLog(auditPath, tools.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	var agents []tools.HTTPAgent
	for _, name := range []string{"support", "finance"} {
		rt, err := agentmv.OpenAgentRuntime(ctx, s, name, agentmv.RuntimeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		rt.Tools().Observe(audit.Observer())
		agents = append(agents, tools.HTTPAgent{Name: name, Token: s.AgentTokens[name], Server: tools.NewServer(tools.RuntimeServerName, "test", rt.Tools())})
	}
	srv, err := tools.NewHTTPServer(nil, tools.HTTPOptions{Addr: "127.0.0.1:0", Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(a string) { addr <- a }) }()
	url := "http://" + <-addr + "/mcp"
	defer func() { cancel(); <-done }()

	session := func(token string) (*mcp.ClientSession, error) {
		cctx, ccancel := context.WithTimeout(ctx, testutil.Wait)
		defer ccancel()
		return mcp.NewClient(&mcp.Implementation{Name: "agents-test"}, nil).Connect(cctx,
			&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: bearerRT{token}}, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	}
	call := func(cs *mcp.ClientSession, tool string, args map[string]any) (string, bool) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		return res.Content[0].(*mcp.TextContent).Text, res.IsError
	}
	own := map[string]string{"support": "customer_rollup", "finance": "daily_revenue"}
	other := map[string]string{"support": "daily_revenue", "finance": "customer_rollup"}
	calls := 0
	for _, name := range []string{"support", "finance"} {
		cs, err := session(s.AgentTokens[name])
		if err != nil {
			t.Fatalf("%s: connect: %v", name, err)
		}
		text, isErr := call(cs, tools.ToolListViews, map[string]any{})
		if isErr || !strings.Contains(text, own[name]) || strings.Contains(text, other[name]) {
			t.Errorf("%s list_views: %s", name, text)
		}
		if text, isErr := call(cs, tools.ToolQueryView, map[string]any{"sql": "SELECT * FROM " + own[name]}); isErr {
			t.Errorf("%s query own view: %s", name, text)
		}
		if text, isErr := call(cs, tools.ToolQueryView, map[string]any{"sql": "SELECT * FROM " + other[name]}); !isErr {
			t.Errorf("%s queried the other agent's view: %s", name, text)
		}
		if text, isErr := call(cs, tools.ToolDescribeView, map[string]any{"name": other[name]}); !isErr {
			t.Errorf("%s described the other agent's view: %s", name, text)
		}
		calls += 4
		_ = cs.Close()
	}
	if _, err := session("wrong-token"); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Errorf("a wrong token connected: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	// The audit log: one valid JSON line per call, naming the agent.
	f, err := os.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []tools.CallRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec tools.CallRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("audit line is not JSON: %v: %s", err, sc.Text())
		}
		recs = append(recs, rec)
	}
	if len(recs) != calls {
		t.Fatalf("audit log has %d lines, want %d (one per call)", len(recs), calls)
	}
	byAgent := map[string]int{}
	for _, r := range recs {
		byAgent[r.Agent]++
		if r.Tool == "" || r.Time.IsZero() || r.Outcome == "" || r.Bytes == 0 {
			t.Errorf("incomplete audit line: %+v", r)
		}
		if r.Tool == tools.ToolQueryView && !strings.Contains(string(r.Args), "SELECT * FROM") {
			t.Errorf("query_view's SQL not in the audit line: %s", r.Args)
		}
		if r.Tool == tools.ToolQueryView && r.Outcome == tools.OutcomeOK && (r.Rows == nil || *r.Rows == 0) {
			t.Errorf("query_view line without rows: %+v", r)
		}
		if r.Outcome == tools.OutcomeError && r.ErrType == "" {
			t.Errorf("failed call without error_type: %+v", r)
		}
		if r.Tool == tools.ToolDescribeView && r.View == "" {
			t.Errorf("describe_view line without the view: %+v", r)
		}
	}
	if byAgent["support"] != 4 || byAgent["finance"] != 4 {
		t.Errorf("audit lines by agent: %v, want 4 each", byAgent)
	}
	if audit.Failures() != 0 {
		t.Errorf("audit failures: %d", audit.Failures())
	}
}
