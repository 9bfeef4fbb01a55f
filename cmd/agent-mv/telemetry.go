package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/otelenv"
	"github.com/agentmv/agentmv/refresh"
	"github.com/agentmv/agentmv/tools"
)

// telemetryFlags are the metrics flags of `serve` and `mcp runtime`.
type telemetryFlags struct {
	metricsAddr string
	noMetrics   bool
}

func (f *telemetryFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve GET /metrics without a token on this separate loopback listener (e.g. 127.0.0.1:9464) instead of on the MCP listener behind the bearer token")
	fs.BoolVar(&f.noMetrics, "no-metrics", false, "collect and serve no Prometheus metrics")
}

// telemetry is a command's metrics and tracing: Prometheus metrics on a private registry
// (never the global default) and a tracer provider from the OTEL_* environment (nil when
// those ask for no traces).
type telemetry struct {
	metrics *tools.Metrics
	handler http.Handler
	tp      trace.TracerProvider
	stop    func()
}

// openTelemetry sets up metrics (when served: over HTTP or on --metrics-addr, unless
// --no-metrics) and tracing. Close flushes the last spans.
func openTelemetry(cmd *cobra.Command, f telemetryFlags, served bool) (*telemetry, error) {
	t := &telemetry{stop: func() {}}
	if f.metricsAddr != "" && f.noMetrics {
		return nil, usageError{fmt.Errorf("--metrics-addr and --no-metrics contradict each other; pick one")}
	}
	if f.metricsAddr != "" && !tools.IsLoopback(f.metricsAddr) {
		// the same refusal as tools.NewMetricsServer, before anything is opened
		_, err := tools.NewMetricsServer(f.metricsAddr, http.NotFoundHandler())
		return nil, usageError{err}
	}
	if !f.noMetrics && (served || f.metricsAddr != "") {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		m, err := tools.NewMetrics(reg)
		if err != nil {
			return nil, err
		}
		t.metrics = m
		t.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	}
	tp, err := otelenv.TracerProvider(cmd.Context(), "agent-mv", versionString(), cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	if tp != nil {
		t.tp = tp
		t.stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(ctx); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "agentmv: flushing traces:", err)
			}
		}
	}
	return t, nil
}

// Close flushes and stops the tracer provider.
func (t *telemetry) Close() { t.stop() }

// runtimeOptions adds the metrics and the tracer provider to opts.
func (t *telemetry) runtimeOptions(opts agentmv.RuntimeOptions) agentmv.RuntimeOptions {
	opts.Metrics, opts.TracerProvider = t.metrics, t.tp
	return opts
}

// observeScheduled counts a scheduler refresh (scheduler.Options.OnResult).
func (t *telemetry) observeScheduled(r refresh.Result) {
	if t.metrics != nil {
		t.metrics.ObserveRefresh(r.View, r.Status, tools.TriggerScheduler)
	}
}

// watchAudit counts the audit log's failed writes in the metrics.
func (t *telemetry) watchAudit(a *tools.AuditLog) {
	if t.metrics != nil && a != nil {
		t.metrics.AddAuditLog(a)
	}
}

// mcpHandler is what the MCP listener serves at GET /metrics (behind its bearer token): the
// metrics, unless they are off or on their own listener.
func (t *telemetry) mcpHandler(f telemetryFlags) http.Handler {
	if f.metricsAddr != "" {
		return nil
	}
	return t.handler
}

// serveSeparate runs the --metrics-addr listener until ctx ends (nil at once without it).
func (t *telemetry) serveSeparate(ctx context.Context, cmd *cobra.Command, f telemetryFlags) error {
	if f.metricsAddr == "" || t.handler == nil {
		return nil
	}
	srv, err := tools.NewMetricsServer(f.metricsAddr, t.handler)
	if err != nil {
		return err
	}
	return srv.Serve(ctx, func(addr string) {
		fmt.Fprintf(cmd.ErrOrStderr(), "serving metrics on http://%s/metrics\n", addr)
	})
}
