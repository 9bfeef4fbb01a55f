package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/tools"
)

// loadClients is the number of MCP clients of the HTTP load test (reliability.TestMCPLoad).
const loadClients = 32

// loadSeed and loadViews are the load test's project: views a and b over a 100-row table.
const loadSeed = `CREATE TABLE public.t (id int PRIMARY KEY, name text NOT NULL, amount int NOT NULL);
INSERT INTO public.t SELECT i, 'n' || (i % 7), i * 3 FROM generate_series(1, 100) i;`

var loadViews = []view{
	{name: "a", sql: "SELECT id, name, amount FROM public.t", unique: []string{"id"}},
	{name: "b", sql: "SELECT name, sum(amount) AS total FROM agent_mv.a GROUP BY name", unique: []string{"name"}},
}

// telemetryServer is one runtime served over streamable HTTP on loopback, with its 32 clients.
type telemetryServer struct {
	rt      *agentmv.Runtime
	url     string
	clients []*mcp.ClientSession
}

type telemetryFixture struct {
	off, on *telemetryServer
	audit   *tools.AuditLog
	dir     string
}

var telemetryOnce lazy[*telemetryFixture]

// buildTelemetryFixture applies the load test's project and serves it twice, each server on
// its own runtime (pool of 8, the CLI's default): "off" plain, "on" with the audit log (a file,
// the CLI's default fsync policy) and Prometheus metrics, as `agent-mv serve --audit-log FILE`
// runs it. Tracing stays off (OTEL_* unset), as by default.
func buildTelemetryFixture(tb testing.TB) *telemetryFixture {
	p := newProject(tb, loadSeed)
	p.writeConfig(tb, loadViews)
	p.apply(tb)
	dir, err := os.MkdirTemp("", "agentmv-telemetry-")
	if err != nil {
		tb.Fatal(err)
	}
	f := &telemetryFixture{dir: dir}
	f.audit, err = tools.OpenAuditLog(filepath.Join(dir, "audit.jsonl"), tools.AuditOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := tools.NewMetrics(reg)
	if err != nil {
		tb.Fatal(err)
	}
	m.AddAuditLog(f.audit)
	serve := func(opts agentmv.RuntimeOptions, metrics http.Handler, observers ...tools.Observer) *telemetryServer {
		opts.Schema = "agent_mv"
		rt, err := agentmv.OpenRuntime(context.Background(), p.settings.RuntimeURL, opts)
		if err != nil {
			tb.Fatal(err)
		}
		rt.Tools().Observe(observers...)
		srv, err := tools.NewHTTPServer(tools.NewServer(tools.RuntimeServerName, "bench", rt.Tools()),
			tools.HTTPOptions{Addr: "127.0.0.1:0", Metrics: metrics})
		if err != nil {
			tb.Fatal(err)
		}
		addr := make(chan string, 1)
		go func() { _ = srv.Serve(context.Background(), func(a string) { addr <- a }) }()
		s := &telemetryServer{rt: rt, url: "http://" + <-addr + "/mcp"}
		hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * loadClients, MaxIdleConnsPerHost: 2 * loadClients}}
		for range loadClients {
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(context.Background(),
				&mcp.StreamableClientTransport{Endpoint: s.url, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
			if err != nil {
				tb.Fatal(err)
			}
			s.clients = append(s.clients, cs)
		}
		return s
	}
	f.off = serve(agentmv.RuntimeOptions{}, nil)
	f.on = serve(agentmv.RuntimeOptions{Metrics: m}, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), f.audit.Observer())
	return f
}

// round runs the load test's mix (20% list_views, 20% describe_view, 50% query_view, 10%
// refresh_view) from every client of s for d and returns the calls per second. Any protocol
// error or tool error other than a busy refresh fails the benchmark.
func (s *telemetryServer) round(b *testing.B, d time.Duration, seed uint64) float64 {
	var calls atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i, cs := range s.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for time.Now().Before(deadline) {
				tool, args := testutil.LoadMixCall(rng)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
				cancel()
				if err != nil {
					failed.Store(fmt.Sprintf("%s: %v", tool, err))
					return
				}
				if res.IsError {
					failed.Store(fmt.Sprintf("%s: %s", tool, res.Content[0].(*mcp.TextContent).Text))
					return
				}
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		b.Fatalf("call failed under load: %v", f)
	}
	return float64(calls.Load()) / time.Since(start).Seconds()
}

// BenchmarkTelemetryOverhead measures what the audit log and the Prometheus metrics cost under
// the HTTP load test's traffic (32 MCP clients over streamable HTTP on loopback, its mix of
// tools): each iteration runs one round against the plain server and one against the server
// with audit+metrics, for AGENTMV_BENCH_ROUND each (default 2s), in alternating order; on/off
// is the median of the per-pair throughput ratios (1.00 = free; the budget is ≥ 0.90).
//
//	go test -run '^$' -bench TelemetryOverhead -benchtime 10x ./bench
func BenchmarkTelemetryOverhead(b *testing.B) {
	f := telemetryOnce.get(b, buildTelemetryFixture)
	d := 2 * time.Second
	if s := os.Getenv("AGENTMV_BENCH_ROUND"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 {
			b.Fatalf("AGENTMV_BENCH_ROUND=%q: want a positive duration", s)
		}
		d = v
	}
	auditBefore := f.audit.Failures()
	var ratios, offs, ons []float64
	i := uint64(0)
	for b.Loop() {
		i++
		var off, on float64
		if i%2 == 0 {
			off = f.off.round(b, d, i)
			on = f.on.round(b, d, i)
		} else {
			on = f.on.round(b, d, i)
			off = f.off.round(b, d, i)
		}
		ratios, offs, ons = append(ratios, on/off), append(offs, off), append(ons, on)
	}
	if n := f.audit.Failures() - auditBefore; n > 0 {
		b.Fatalf("%d audit writes failed", n)
	}
	b.ReportMetric(median(offs), "off-calls/s")
	b.ReportMetric(median(ons), "on-calls/s")
	b.ReportMetric(median(ratios), "on/off")
	b.Logf("per-round on/off: %s", formatRatios(ratios))
}

func formatRatios(r []float64) string {
	parts := make([]string, len(r))
	for i, v := range r {
		parts[i] = fmt.Sprintf("%.3f", v)
	}
	return strings.Join(parts, " ")
}
