package agentmv_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/tools"
)

// scrape GETs url with token and parses the Prometheus text format; anything but 200 fails.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	code, fams := testutil.ScrapeMetrics(t, url, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", url, code)
	}
	return fams
}

// TestTelemetryOverHTTP: the runtime served over streamable HTTP with metrics, an audit log
// and tracing (real Postgres, real MCP session). /metrics needs the bearer token like the MCP
// endpoint; its counters move with the calls (scraped before and after); the audit log holds
// one valid JSON line per call with every field; a query_view call is a span with the
// database work as child spans, and a refused call a span with an error.
func TestTelemetryOverHTTP(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := pr.open().Settings()

	reg := prometheus.NewRegistry()
	metrics, err := tools.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := tools.OpenAuditLog(auditPath, tools.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	metrics.AddAuditLog(audit)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())

	rt, err := agentmv.OpenRuntime(ctx, s.RuntimeURL, agentmv.RuntimeOptions{Schema: s.TargetSchema, Metrics: metrics, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	rt.Tools().Observe(audit.Observer())

	const token = "telemetry-token-123"
	srv, err := tools.NewHTTPServer(tools.NewServer(tools.RuntimeServerName, "test", rt.Tools()), tools.HTTPOptions{
		Addr: "127.0.0.1:0", Token: token, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})})
	if err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(a string) { addr <- a }) }()
	base := "http://" + <-addr
	defer func() { cancel(); <-done }()

	// /metrics is protected like /mcp.
	for _, tok := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /metrics with token %q: %d, want 401", tok, resp.StatusCode)
		}
	}
	before := scrape(t, base+"/metrics", token)

	cctx, ccancel := context.WithTimeout(ctx, testutil.Wait)
	defer ccancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "telemetry-test"}, nil).Connect(cctx,
		&mcp.StreamableClientTransport{Endpoint: base + "/mcp", HTTPClient: &http.Client{Transport: bearerRT{token}}, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	spans.Reset()
	calls := []struct {
		tool string
		args map[string]any
		err  string
	}{
		{tools.ToolListViews, map[string]any{}, ""},
		{tools.ToolQueryView, map[string]any{"sql": "SELECT customer_id FROM customer_rollup ORDER BY 1", "limit": 2}, ""},
		{tools.ToolQueryView, map[string]any{"sql": "SELECT * FROM public.orders"}, "x"},
		{tools.ToolRefreshView, map[string]any{"name": "customer_rollup"}, ""},
	}
	for _, c := range calls {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: c.tool, Arguments: c.args})
		if err != nil {
			t.Fatalf("%s: %v", c.tool, err)
		}
		if res.IsError != (c.err != "") {
			t.Fatalf("%s: isError %v: %s", c.tool, res.IsError, res.Content[0].(*mcp.TextContent).Text)
		}
	}
	after := scrape(t, base+"/metrics", token)

	// The audit log: one valid JSON line per call, every field.
	b, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != len(calls) {
		t.Fatalf("%d audit lines for %d calls:\n%s", len(lines), len(calls), b)
	}
	var refusedType string
	for i, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("audit line %d is not JSON: %v\n%s", i, err, l)
		}
		want := []string{"time", "agent", "tool", "arguments", "outcome", "bytes", "duration_ms"}
		switch i {
		case 1:
			want = append(want, "rows", "truncated", "served_by")
		case 2:
			want = append(want, "error_type")
			refusedType, _ = rec["error_type"].(string)
		case 3:
			want = append(want, "view", "status")
		}
		for _, k := range want {
			if _, ok := rec[k]; !ok {
				t.Errorf("audit line %d has no %q: %s", i, k, l)
			}
		}
		if rec["tool"] != calls[i].tool || rec["agent"] != tools.DefaultAgentName {
			t.Errorf("audit line %d: tool %v agent %v, want %s runtime", i, rec["tool"], rec["agent"], calls[i].tool)
		}
	}
	if !strings.Contains(lines[1], `"sql":"SELECT customer_id FROM customer_rollup ORDER BY 1"`) ||
		!strings.Contains(lines[1], `"rows":2`) || !strings.Contains(lines[1], `"truncated":true`) {
		t.Errorf("query_view's audit line lacks the SQL as sent, rows 2 or truncated: %s", lines[1])
	}
	if refusedType == "" {
		t.Fatalf("the refused query has no error_type: %s", lines[2])
	}

	// Metrics: deltas between the two scrapes.
	delta := func(name string, labels map[string]string) float64 {
		a, _ := testutil.MetricSum(after, name, labels)
		b, _ := testutil.MetricSum(before, name, labels)
		return a - b
	}
	rt0 := map[string]string{"agent": tools.DefaultAgentName}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"agentmv_tool_calls_total", map[string]string{"tool": "list_views", "outcome": "ok"}, 1},
		{"agentmv_tool_calls_total", map[string]string{"tool": "query_view", "outcome": "ok"}, 1},
		{"agentmv_tool_calls_total", map[string]string{"tool": "query_view", "outcome": refusedType}, 1},
		{"agentmv_tool_calls_total", map[string]string{"tool": "refresh_view", "outcome": "ok"}, 1},
		{"agentmv_tool_call_duration_seconds", map[string]string{"tool": "query_view"}, 2},
		{"agentmv_tool_rows_returned_total", map[string]string{"tool": "query_view"}, 2},
		{"agentmv_refreshes_total", map[string]string{"view": "customer_rollup", "status": "success", "trigger": "tool"}, 1},
	} {
		labels := map[string]string{}
		if strings.HasPrefix(c.name, "agentmv_tool_") {
			for k, v := range rt0 {
				labels[k] = v
			}
		}
		for k, v := range c.labels {
			labels[k] = v
		}
		if got := delta(c.name, labels); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := delta("agentmv_tool_bytes_returned_total", map[string]string{"tool": "query_view"}); got < 20 {
		t.Errorf("query_view bytes moved by %v", got)
	}
	if v, ok := testutil.MetricSum(after, "agentmv_pool_connections", map[string]string{"pool": "runtime", "state": "max"}); !ok || v != 8 {
		t.Errorf("agentmv_pool_connections{pool=runtime,state=max} = %v %v, want 8", v, ok)
	}
	if v, ok := testutil.MetricSum(after, "agentmv_view_data_age_seconds", map[string]string{"view": "customer_rollup"}); !ok || v < 0 || v > 600 {
		t.Errorf("agentmv_view_data_age_seconds{view=customer_rollup} = %v %v, want a few seconds", v, ok)
	}
	if v, ok := testutil.MetricSum(after, "agentmv_audit_write_failures_total", nil); !ok || v != 0 {
		t.Errorf("agentmv_audit_write_failures_total = %v %v, want 0", v, ok)
	}

	// Traces: a span per call; query_view's has the database work as children.
	got := spans.GetSpans()
	byID := map[string]tracetest.SpanStub{}
	var toolSpans []tracetest.SpanStub
	for _, sp := range got {
		byID[sp.SpanContext.SpanID().String()] = sp
		if strings.HasPrefix(sp.Name, "tools/call ") {
			toolSpans = append(toolSpans, sp)
		}
	}
	if len(toolSpans) != len(calls) {
		t.Fatalf("%d tool spans for %d calls: %v", len(toolSpans), len(calls), spanNames(got))
	}
	attr := func(sp tracetest.SpanStub, key string) string {
		for _, a := range sp.Attributes {
			if string(a.Key) == key {
				return a.Value.Emit()
			}
		}
		return ""
	}
	for i, sp := range toolSpans { // the exporter receives spans as they end, in call order
		if sp.Name != "tools/call "+calls[i].tool || attr(sp, "agentmv.tool") != calls[i].tool || attr(sp, "agentmv.agent") != tools.DefaultAgentName {
			t.Errorf("span %d: %s tool=%q agent=%q", i, sp.Name, attr(sp, "agentmv.tool"), attr(sp, "agentmv.agent"))
		}
		children, cursor := 0, false
		for _, c := range got {
			if c.Parent.SpanID() == sp.SpanContext.SpanID() && attr(c, "db.system.name") == "postgresql" {
				children++
				// the agent's query itself, as executed (the deparsed SELECT)
				cursor = cursor || strings.Contains(attr(c, "db.query.text"), "customer_rollup") && attr(c, "db.response.returned_rows") == "2"
			}
		}
		switch i {
		case 1:
			if attr(sp, "agentmv.outcome") != "ok" || attr(sp, "agentmv.rows") != "2" || children < 2 || !cursor {
				t.Errorf("query_view span: outcome %q rows %q, %d database child spans (want ≥ 2, one running the query: %v): %v", attr(sp, "agentmv.outcome"), attr(sp, "agentmv.rows"), children, cursor, spanNames(got))
			}
		case 2:
			if sp.Status.Code != codes.Error || attr(sp, "agentmv.outcome") != refusedType || len(sp.Events) == 0 {
				t.Errorf("refused query_view span: status %v outcome %q events %d", sp.Status, attr(sp, "agentmv.outcome"), len(sp.Events))
			}
		case 3:
			if children == 0 {
				t.Errorf("refresh_view span has no database child span: %v", spanNames(got))
			}
		}
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
