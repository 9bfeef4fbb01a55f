package reliability_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/agentmv/agentmv/internal/testutil"
)

// scrapeMetrics is testutil.ScrapeMetrics.
func scrapeMetrics(t *testing.T, url, token string) (int, map[string]*dto.MetricFamily) {
	return testutil.ScrapeMetrics(t, url, token)
}

// metricSum adds the values of name's series whose labels include want (testutil.MetricSum).
func metricSum(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	v, _ := testutil.MetricSum(fams, name, want)
	return v
}

// TestServeTelemetry: `agent-mv serve` with --audit-log, --metrics-addr on loopback and
// OTEL_TRACES_EXPORTER=console. /metrics on the separate listener needs no token and shows the
// scheduler's refreshes, the tool calls (moving between two scrapes), the pool and the views'
// data age; the MCP listener does not serve it there; the audit log has one line per call;
// the spans reach stderr. A non-loopback --metrics-addr is refused; without --metrics-addr,
// /metrics sits behind the bearer token.
func TestServeTelemetry(t *testing.T) {
	t.Parallel()
	pr := serveProject(t, "1s", "", nil)

	if res := pr.run("serve", "--http", "127.0.0.1:0", "--metrics-addr", "0.0.0.0:9464"); res.code == 0 || !strings.Contains(res.stderr, "not a loopback address") {
		t.Errorf("serve --metrics-addr 0.0.0.0:9464: exit %d\n%s", res.code, res.stderr)
	}

	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	s := startServe(t, pr, []string{"OTEL_TRACES_EXPORTER=console", "OTEL_BSP_SCHEDULE_DELAY=100"},
		"--poll", "500ms", "--audit-log", auditPath, "--metrics-addr", "127.0.0.1:0")
	var metricsURL string
	waitFor(t, 60*time.Second, "the metrics listener", func() bool {
		sc := bufio.NewScanner(strings.NewReader(s.log.String()))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "serving metrics on "); ok {
				metricsURL = rest
				return true
			}
		}
		return false
	})
	if code, _ := s.get(t, "/metrics"); code == http.StatusOK {
		t.Errorf("the MCP listener serves /metrics although --metrics-addr moved it")
	}
	sched := map[string]string{"view": "a", "status": "success", "trigger": "scheduler"}
	var before map[string]*dto.MetricFamily
	waitFor(t, 60*time.Second, "a scheduler refresh in the metrics", func() bool {
		_, before = scrapeMetrics(t, metricsURL, "")
		return metricSum(before, "agentmv_refreshes_total", sched) >= 1
	})

	cs := httpSession(t, s.base+"/mcp", &http.Client{})
	ctx := context.Background()
	for _, c := range []struct {
		tool string
		args map[string]any
	}{{"list_views", map[string]any{}}, {"query_view", map[string]any{"sql": "SELECT id FROM a ORDER BY id", "limit": 3}}} {
		if r := callTool(ctx, cs, c.tool, c.args); r.err != nil || r.errorType != "" {
			t.Fatalf("%s: %s", c.tool, r)
		}
	}
	_, after := scrapeMetrics(t, metricsURL, "")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"agentmv_tool_calls_total", map[string]string{"tool": "list_views", "agent": "runtime", "outcome": "ok"}, 1},
		{"agentmv_tool_calls_total", map[string]string{"tool": "query_view", "agent": "runtime", "outcome": "ok"}, 1},
		{"agentmv_tool_rows_returned_total", map[string]string{"tool": "query_view"}, 3},
	} {
		if got := metricSum(after, c.name, c.labels) - metricSum(before, c.name, c.labels); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if metricSum(after, "agentmv_pool_connections", map[string]string{"pool": "runtime", "state": "max"}) != 8 {
		t.Errorf("no agentmv_pool_connections{pool=runtime,state=max} 8")
	}
	if f := after["agentmv_view_data_age_seconds"]; f == nil || len(f.Metric) != 2 {
		t.Errorf("agentmv_view_data_age_seconds: %v, want a and b", f)
	}
	if after["go_goroutines"] == nil || after["agentmv_audit_write_failures_total"] == nil {
		t.Errorf("the Go runtime or audit failure metrics are missing")
	}

	waitFor(t, 60*time.Second, "the query_view span on stderr", func() bool {
		return strings.Contains(s.log.String(), `"Name":"tools/call query_view"`)
	})
	s.signal(t, syscall.SIGTERM, 30*time.Second)
	b, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d audit lines for 2 calls:\n%s", len(lines), b)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("audit line is not JSON: %s", l)
		}
	}

	// Without --metrics-addr: /metrics on the MCP listener, behind the token.
	const token = "metrics-token-xyz"
	s2 := startServe(t, pr, []string{"MCP_TOKEN=" + token}, "--no-scheduler", "--token-env", "MCP_TOKEN")
	if code, _ := scrapeMetrics(t, s2.base+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	if code, fams := scrapeMetrics(t, s2.base+"/metrics", token); code != http.StatusOK || fams["agentmv_audit_write_failures_total"] == nil {
		t.Errorf("/metrics with the token: %d", code)
	}
}
