package reliability_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// TestHTTPHardening probes `agent-mv mcp runtime --http` with a bearer token on loopback with
// raw HTTP requests: wrong or missing token → 401 (and no token in the server's output),
// oversized body → 413, foreign Origin or Host (DNS rebinding) → 403, and the server still
// serves a real MCP session afterwards.
func TestHTTPHardening(t *testing.T) {
	t.Parallel()
	const token = "tok-3f9c2a7e-correct-horse"
	const wrongToken = "tok-wrong-battery-staple-77"
	pr := mcpProject(t)
	srv := startHTTPServer(t, pr, []string{"AGENTMV_TEST_MCP_TOKEN=" + token}, "--token-env", "AGENTMV_TEST_MCP_TOKEN")
	u, err := url.Parse(srv.url)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 20 * time.Second}

	for _, tc := range []struct {
		name   string
		auth   string
		origin string
		host   string
		body   string
		want   int
	}{
		{"right token", "Bearer " + token, "", "", initializeBody, http.StatusOK},
		{"no token", "", "", "", initializeBody, http.StatusUnauthorized},
		{"wrong token", "Bearer " + wrongToken, "", "", initializeBody, http.StatusUnauthorized},
		{"token prefix", "Bearer " + token[:len(token)-1], "", "", initializeBody, http.StatusUnauthorized},
		{"token with suffix", "Bearer " + token + "x", "", "", initializeBody, http.StatusUnauthorized},
		{"basic auth", "Basic " + token, "", "", initializeBody, http.StatusUnauthorized},
		{"body over 1 MiB", "Bearer " + token, "", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`, http.StatusRequestEntityTooLarge},
		{"foreign origin", "Bearer " + token, "https://evil.example", "", initializeBody, http.StatusForbidden},
		{"null origin", "Bearer " + token, "null", "", initializeBody, http.StatusForbidden},
		{"rebinding host", "Bearer " + token, "", "evil.example:" + u.Port(), initializeBody, http.StatusForbidden},
		{"loopback origin", "Bearer " + token, "http://localhost:" + u.Port(), "", initializeBody, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.url, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d; body %q", resp.StatusCode, tc.want, short(string(body)))
			}
			if bytes.Contains(body, []byte(token)) || bytes.Contains(body, []byte(wrongToken)) {
				t.Errorf("the response echoes a token: %q", body)
			}
			if tc.want == http.StatusOK && !bytes.Contains(body, []byte(`"serverInfo"`)) {
				t.Errorf("initialize answered without serverInfo: %q", short(string(body)))
			}
		})
	}

	// A real session with the token works after all that; without it the client cannot connect.
	cs := httpSession(t, srv.url, &http.Client{Transport: bearer{token, http.DefaultTransport}})
	if r := callTool(context.Background(), cs, "list_views", map[string]any{}); r.err != nil || r.errorType != "" {
		t.Errorf("list_views with the token: %s", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cs, err := mcp.NewClient(&mcp.Implementation{Name: "no-token"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: srv.url, MaxRetries: -1, DisableStandaloneSSE: true}, nil); err == nil {
		cs.Close()
		t.Error("an MCP client without the token connected")
	}
	if log := srv.log.String(); strings.Contains(log, token) || strings.Contains(log, wrongToken) {
		t.Errorf("the server's output contains a token:\n%s", log)
	}
	t.Logf("server output:\n%s", srv.log)
}
