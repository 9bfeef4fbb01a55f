package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentmv/agentmv/internal/testutil"
)

// runtimePoolMax is the runtime MCP server's pool size (agentmv.RuntimeOptions.MaxConns
// default, which `agent-mv mcp runtime` uses).
const runtimePoolMax = 8

// TestMCPLoad runs 32 MCP clients over streamable HTTP on loopback against one
// `agent-mv mcp runtime --http` process for AGENTMV_RELIABILITY_LOAD_SECONDS (default 20),
// each looping over a mix of list_views, describe_view, query_view and refresh_view. It
// requires zero protocol errors and zero tool errors, exactly one history row per successful
// refresh result, the server's connections to Postgres never above its pool size, and its
// memory not growing without bound; it reports throughput and query_view latencies.
func TestMCPLoad(t *testing.T) {
	seconds := 20
	if s := os.Getenv("AGENTMV_RELIABILITY_LOAD_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("AGENTMV_RELIABILITY_LOAD_SECONDS=%q: want a positive number of seconds", s)
		}
		seconds = n
	}
	const clients = 32
	pr := mcpProject(t)
	srv := startHTTPServer(t, pr, nil)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients}}
	t.Cleanup(hc.CloseIdleConnections)

	ctx := context.Background()
	historyBefore := historyCounts(t, pr)

	// Sample the server's Postgres connections and its memory while the load runs.
	var maxConns atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			var n int64
			if err := pr.admin.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_stat_activity
				WHERE datname = current_database() AND usename = $1`, pr.runtimeRole()).Scan(&n); err == nil && n > maxConns.Load() {
				maxConns.Store(n)
			}
		}
	}()

	type stats struct {
		calls        map[string]int
		queryLatency []time.Duration
		refreshOK    int
		refreshBusy  int
		failures     []string
	}
	all := make([]stats, clients)
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	start := time.Now()
	var rssWarmKB atomic.Int64
	go func() {
		time.Sleep(2 * time.Second)
		rssWarmKB.Store(rssKB(srv.pid))
	}()
	for i := range all {
		st := &all[i]
		st.calls = map[string]int{}
		cs := httpSession(t, srv.url, hc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			for time.Now().Before(deadline) {
				tool, args := testutil.LoadMixCall(rng)
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				r := callTool(cctx, cs, tool, args)
				cancel()
				st.calls[tool]++
				if r.err != nil || r.errorType != "" {
					st.failures = append(st.failures, tool+": "+short(r.String()))
					continue
				}
				switch tool {
				case "query_view":
					st.queryLatency = append(st.queryLatency, r.elapsed)
				case "refresh_view":
					var res struct{ Status string }
					if err := json.Unmarshal([]byte(r.text), &res); err != nil {
						st.failures = append(st.failures, "refresh_view result: "+err.Error())
					}
					switch res.Status {
					case "success":
						st.refreshOK++
					case "busy":
						st.refreshBusy++
					default:
						st.failures = append(st.failures, "refresh_view status "+res.Status)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rssEnd, rssWarm := rssKB(srv.pid), rssWarmKB.Load()
	close(stopSampling)
	<-sampled

	calls := map[string]int{}
	var lat []time.Duration
	refreshOK, refreshBusy, total := 0, 0, 0
	var failures []string
	for _, st := range all {
		for k, v := range st.calls {
			calls[k] += v
			total += v
		}
		lat = append(lat, st.queryLatency...)
		refreshOK += st.refreshOK
		refreshBusy += st.refreshBusy
		failures = append(failures, st.failures...)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	t.Logf("%d clients, %s: %d calls (%.0f/s) %v; refresh_view %d success, %d busy",
		clients, elapsed.Round(time.Millisecond), total, float64(total)/elapsed.Seconds(), calls, refreshOK, refreshBusy)
	t.Logf("query_view latency over %d calls: p50 %s, p90 %s, p99 %s, max %s", len(lat),
		pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	t.Logf("server Postgres connections: max %d (pool %d); server RSS %d KiB after warm-up, %d KiB at the end",
		maxConns.Load(), runtimePoolMax, rssWarm, rssEnd)

	if len(failures) > 0 {
		t.Errorf("%d failed calls, e.g.:\n%s", len(failures), strings.Join(failures[:min(10, len(failures))], "\n"))
	}
	for _, tool := range []string{"list_views", "describe_view", "query_view", "refresh_view"} {
		if calls[tool] == 0 {
			t.Errorf("no %s call ran", tool)
		}
	}
	if refreshOK == 0 {
		t.Error("no refresh succeeded under load")
	}
	after := historyCounts(t, pr)
	if got := after["success"] - historyBefore["success"]; got != refreshOK {
		t.Errorf("%d new success rows in refresh_history, but %d refresh_view calls returned success", got, refreshOK)
	}
	if after["running"] != 0 || after["failed"] != historyBefore["failed"] {
		t.Errorf("refresh_history after the load: %v (before %v)", after, historyBefore)
	}
	if n := maxConns.Load(); n > runtimePoolMax || n == 0 {
		t.Errorf("the server held %d connections to Postgres at once; its pool allows %d", n, runtimePoolMax)
	}
	if rssWarm > 0 && rssEnd > 2*rssWarm+64<<10 {
		t.Errorf("server RSS grew from %d KiB to %d KiB", rssWarm, rssEnd)
	}
	if log := srv.log.String(); strings.Contains(log, "panic") {
		t.Errorf("server log has a panic:\n%s", log)
	}
}

// historyCounts counts refresh_history rows by status.
func historyCounts(t *testing.T, pr *project) map[string]int {
	t.Helper()
	rows, err := pr.admin.Query(context.Background(), `SELECT status, count(*)::int FROM agent_mv.refresh_history GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rssKB is a process's resident set size in KiB (0 if unknown).
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
