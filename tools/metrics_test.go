package tools_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentmv/agentmv/tools"
)

// gathered is the value of the first series of name in reg (counter or gauge).
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// TestMetricsCalls: the registry's calls count by tool, agent and outcome (the error type for a
// failure, a panic included); a failing audit log is counted; calls keep working.
func TestMetricsCalls(t *testing.T) {
	reg := testRegistry(t)
	reg.SetAgent("support")
	preg := prometheus.NewRegistry()
	m, err := tools.NewMetrics(preg)
	if err != nil {
		t.Fatal(err)
	}
	audit := tools.NewAuditWriter(failingWriter{})
	m.AddAuditLog(audit)
	reg.Observe(audit.Observer(), m.Observer())
	for range 2 {
		if res := reg.Call(context.Background(), "echo", json.RawMessage(`{"name":"x"}`)); res.IsError {
			t.Fatalf("echo: %+v", res)
		}
	}
	reg.Call(context.Background(), "refuse", json.RawMessage(`{}`))
	reg.Call(context.Background(), "boom", json.RawMessage(`{}`))
	for _, c := range []struct {
		tool, outcome string
		want          float64
	}{{"echo", "ok", 2}, {"refuse", tools.ErrNotAllowed, 1}, {"boom", tools.ErrInternal, 1}} {
		if got := gathered(t, preg, "agentmv_tool_calls_total", map[string]string{"tool": c.tool, "agent": "support", "outcome": c.outcome}); got != c.want {
			t.Errorf("calls{%s,%s} = %v, want %v", c.tool, c.outcome, got, c.want)
		}
	}
	if got := gathered(t, preg, "agentmv_audit_write_failures_total", nil); got != 4 {
		t.Errorf("audit write failures = %v, want 4", got)
	}
	// A second registry of the same name is refused (one Metrics per prometheus.Registry).
	if _, err := tools.NewMetrics(preg); err == nil {
		t.Error("NewMetrics registered twice on one registry")
	}
}

// TestMetricsServerLoopbackOnly: the token-less metrics listener refuses any address that is
// not loopback, with a message that says what to do.
func TestMetricsServerLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:9464", ":9464", "192.0.2.1:9464", "example.com:9464"} {
		_, err := tools.NewMetricsServer(addr, http.NotFoundHandler())
		if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("NewMetricsServer(%q) = %v, want a loopback refusal", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:9464"} {
		if _, err := tools.NewMetricsServer(addr, http.NotFoundHandler()); err != nil {
			t.Errorf("NewMetricsServer(%q): %v", addr, err)
		}
	}
}
