package tools

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentmv/agentmv/refresh"
)

// Refresh triggers, the trigger label of agentmv_refreshes_total.
const (
	TriggerTool      = "tool"      // refresh_view called by an agent
	TriggerScheduler = "scheduler" // the refresh scheduler of `agent-mv serve`
)

// Metrics collects Prometheus metrics of tool calls and of the runtimes behind them. It is
// fed by the registry like the audit log ([Registry.Observe] with [Metrics.Observer]) and
// reads the rest at scrape time ([Metrics.AddPool], [Metrics.AddAuditLog]), so an embedding
// host gets the same metrics as `agent-mv serve` by passing its own prometheus.Registerer to
// [NewMetrics] (agentmv.RuntimeOptions.Metrics wires a runtime in one step).
//
// Series (every label value comes from a bounded set: tool names of the registry, configured
// agents, error types, managed views, refresh statuses):
//
//	agentmv_tool_calls_total{tool,agent,outcome}         outcome: ok or the error_type
//	agentmv_tool_call_duration_seconds{tool,agent}       histogram
//	agentmv_tool_rows_returned_total{tool,agent}         rows of query_view and declared tools
//	agentmv_tool_bytes_returned_total{tool,agent}        encoded result bytes
//	agentmv_refreshes_total{view,status,trigger}         status: success, busy, fresh, failed, skipped
//	agentmv_view_data_age_seconds{view}                  now − data_as_of, read at scrape time
//	agentmv_pool_connections{pool,state}                 state: acquired, idle, constructing, max
//	agentmv_pool_acquires_total{pool}, agentmv_pool_empty_acquires_total{pool},
//	agentmv_pool_acquire_wait_seconds_total{pool}
//	agentmv_audit_write_failures_total
//
// A call costs one map lookup under a read lock and four atomic updates: the series of a
// (tool, agent, outcome) are looked up once and kept. Methods are safe for concurrent use.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	rows     *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	refresh  *prometheus.CounterVec

	mu     sync.RWMutex
	series map[seriesKey]*callSeries

	srcMu  sync.Mutex
	pools  []*poolSource
	audits []*AuditLog
	nextID int
}

type seriesKey struct{ tool, agent, outcome string }

// callSeries are the precomputed children of one (tool, agent, outcome).
type callSeries struct {
	calls        prometheus.Counter
	duration     prometheus.Observer
	rows, nbytes prometheus.Counter
}

// poolSource is one pool (and, with a schema, its views) read at scrape time.
type poolSource struct {
	id     int
	name   string
	pool   *pgxpool.Pool
	schema string
}

// DurationBuckets are the buckets of agentmv_tool_call_duration_seconds: from a cached
// list_views (≈ 0.2 ms) to a statement_timeout.
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewMetrics registers agentmv's metrics on reg (use a prometheus.NewRegistry of your own
// rather than the global default) and returns the collector to feed.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentmv_tool_calls_total",
			Help: "MCP tool calls by tool, agent and outcome (ok, or the error_type of the failure)."},
			[]string{"tool", "agent", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "agentmv_tool_call_duration_seconds",
			Help: "Duration of MCP tool calls, from the arguments received to the result encoded.", Buckets: DurationBuckets},
			[]string{"tool", "agent"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentmv_tool_rows_returned_total",
			Help: "Rows returned by query_view and declared tools."}, []string{"tool", "agent"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentmv_tool_bytes_returned_total",
			Help: "Bytes of encoded tool results returned to agents."}, []string{"tool", "agent"}),
		refresh: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentmv_refreshes_total",
			Help: "Refreshes by view, status (success, busy, fresh, failed, skipped) and trigger (tool: refresh_view; scheduler: agent-mv serve)."},
			[]string{"view", "status", "trigger"}),
		series: map[seriesKey]*callSeries{},
	}
	for _, c := range []prometheus.Collector{m.calls, m.duration, m.rows, m.bytes, m.refresh, (*scrapeCollector)(m)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Observer returns the registry observer that counts each call (see [Registry.Observe]). A
// refresh_view call also counts as a refresh with trigger "tool" when it reached the view.
func (m *Metrics) Observer() Observer {
	return func(_ context.Context, rec *CallRecord) { m.observe(rec) }
}

func (m *Metrics) observe(rec *CallRecord) {
	outcome := rec.Outcome
	if rec.ErrType != "" {
		outcome = rec.ErrType
	}
	s := m.seriesFor(seriesKey{rec.Tool, rec.Agent, outcome})
	s.calls.Inc()
	s.duration.Observe(rec.Duration / 1000)
	s.nbytes.Add(float64(rec.Bytes))
	if rec.Rows != nil {
		s.rows.Add(float64(*rec.Rows))
	}
	if rec.Status != "" && rec.View != "" {
		m.ObserveRefresh(rec.View, rec.Status, TriggerTool)
	}
}

// seriesFor returns the precomputed series of k, creating them on first use.
func (m *Metrics) seriesFor(k seriesKey) *callSeries {
	m.mu.RLock()
	s := m.series[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.series[k]; s == nil {
		s = &callSeries{
			calls:    m.calls.WithLabelValues(k.tool, k.agent, k.outcome),
			duration: m.duration.WithLabelValues(k.tool, k.agent),
			rows:     m.rows.WithLabelValues(k.tool, k.agent),
			nbytes:   m.bytes.WithLabelValues(k.tool, k.agent),
		}
		m.series[k] = s
	}
	return s
}

// ObserveRefresh counts one refresh of view that ended with status (refresh.Status*), started
// by trigger ([TriggerTool], [TriggerScheduler]).
func (m *Metrics) ObserveRefresh(view, status, trigger string) {
	m.refresh.WithLabelValues(view, status, trigger).Inc()
}

// AddPool makes pool's connections part of every scrape under the label pool=name; with a
// schema, the data age of the views that pool's role can see is read too (one status query
// per scrape, O(views); a view seen through several pools is reported once). It returns a
// function that removes the pool again (call it before closing the pool).
func (m *Metrics) AddPool(name string, pool *pgxpool.Pool, schema string) (remove func()) {
	m.srcMu.Lock()
	defer m.srcMu.Unlock()
	m.nextID++
	id := m.nextID
	m.pools = append(m.pools, &poolSource{id: id, name: name, pool: pool, schema: schema})
	return func() {
		m.srcMu.Lock()
		defer m.srcMu.Unlock()
		for i, p := range m.pools {
			if p.id == id {
				m.pools = append(m.pools[:i:i], m.pools[i+1:]...)
				return
			}
		}
	}
}

// AddAuditLog adds a's failed writes to agentmv_audit_write_failures_total.
func (m *Metrics) AddAuditLog(a *AuditLog) {
	m.srcMu.Lock()
	defer m.srcMu.Unlock()
	m.audits = append(m.audits, a)
}

// scrapeCollector reads pools, views and audit logs when Prometheus scrapes.
type scrapeCollector Metrics

var (
	descViewAge = prometheus.NewDesc("agentmv_view_data_age_seconds",
		"Age of a managed view's data: now minus data_as_of (the oldest last successful refresh of the view and its upstream views). Absent for a view never refreshed.",
		[]string{"view"}, nil)
	descPoolConns = prometheus.NewDesc("agentmv_pool_connections",
		"Postgres connections of a runtime pool by state (acquired, idle, constructing) and its maximum (max).",
		[]string{"pool", "state"}, nil)
	descPoolAcquires = prometheus.NewDesc("agentmv_pool_acquires_total",
		"Connections acquired from a runtime pool.", []string{"pool"}, nil)
	descPoolEmpty = prometheus.NewDesc("agentmv_pool_empty_acquires_total",
		"Acquires that had to wait for a connection (none was idle).", []string{"pool"}, nil)
	descPoolWait = prometheus.NewDesc("agentmv_pool_acquire_wait_seconds_total",
		"Total time spent acquiring connections from a runtime pool.", []string{"pool"}, nil)
	descAuditFailures = prometheus.NewDesc("agentmv_audit_write_failures_total",
		"Audit log lines that could not be written (the calls went on).", nil, nil)
	descViewStatusUp = prometheus.NewDesc("agentmv_view_status_up",
		"1 when the last scrape could read the views' status through this pool, 0 when it failed.",
		[]string{"pool"}, nil)
)

// Describe implements prometheus.Collector.
func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descViewAge, descPoolConns, descPoolAcquires, descPoolEmpty, descPoolWait, descAuditFailures, descViewStatusUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	c.srcMu.Lock()
	pools := append([]*poolSource(nil), c.pools...)
	var failures int64
	for _, a := range c.audits {
		failures += a.Failures()
	}
	c.srcMu.Unlock()
	ch <- prometheus.MustNewConstMetric(descAuditFailures, prometheus.CounterValue, float64(failures))
	seenPool, seenView := map[string]bool{}, map[string]bool{}
	for _, p := range pools {
		if seenPool[p.name] { // one series per pool name: the first pool added under it
			continue
		}
		seenPool[p.name] = true
		st := p.pool.Stat()
		for _, s := range []struct {
			state string
			n     int32
		}{{"acquired", st.AcquiredConns()}, {"idle", st.IdleConns()}, {"constructing", st.ConstructingConns()}, {"max", st.MaxConns()}} {
			ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(s.n), p.name, s.state)
		}
		ch <- prometheus.MustNewConstMetric(descPoolAcquires, prometheus.CounterValue, float64(st.AcquireCount()), p.name)
		ch <- prometheus.MustNewConstMetric(descPoolEmpty, prometheus.CounterValue, float64(st.EmptyAcquireCount()), p.name)
		ch <- prometheus.MustNewConstMetric(descPoolWait, prometheus.CounterValue, st.AcquireDuration().Seconds(), p.name)
		if p.schema == "" {
			continue
		}
		// The age is measured on the database's clock, the one data_as_of was written with:
		// a skewed application clock would shift every age.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var now time.Time
		err := p.pool.QueryRow(ctx, "SELECT pg_catalog.clock_timestamp()").Scan(&now)
		var views []refresh.ViewStatus
		if err == nil {
			views, err = (&refresh.Client{DB: p.pool, Schema: p.schema}).Status(ctx)
		}
		cancel()
		up := 1.0
		if err != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(descViewStatusUp, prometheus.GaugeValue, up, p.name)
		for _, v := range views {
			if v.DataAsOf == nil || seenView[v.Name] {
				continue
			}
			seenView[v.Name] = true
			ch <- prometheus.MustNewConstMetric(descViewAge, prometheus.GaugeValue, now.Sub(*v.DataAsOf).Seconds(), v.Name)
		}
	}
}
