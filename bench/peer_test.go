package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/agentmv/agentmv/internal/testutil"
)

// peerCase is one query both servers run (PEER_CASES of bench/peer/peer.mjs).
type peerCase struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
	Rows int    `json:"rows"`
}

// peerResult is what peer.mjs prints per case.
type peerResult struct {
	Case     string  `json:"case"`
	Rounds   int     `json:"rounds"`
	Calls    int     `json:"calls"`
	Ratio    float64 `json:"ratio"`
	RatioMin float64 `json:"ratio_min"`
	RatioMax float64 `json:"ratio_max"`
	OursUs   float64 `json:"ours_us"`
	RefUs    float64 `json:"ref_us"`
	Ref      string  `json:"reference"`
	Node     string  `json:"node"`
}

// repoRoot is the module root (this file is in bench/).
func repoRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..")
}

// peerDeps makes sure bench/peer/node_modules holds the pinned client and reference server
// (npm ci from the committed lock file; node_modules is gitignored).
func peerDeps(b *testing.B) string {
	dir := filepath.Join(repoRoot(), "bench", "peer")
	if _, err := exec.LookPath("node"); err != nil {
		b.Skip("node is not installed: the peer benchmark drives both servers with the TypeScript MCP client")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "server-postgres")); err == nil {
		return dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		b.Skip("npm is not installed and bench/peer/node_modules is missing")
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("npm ci in bench/peer: %v\n%s", err, out)
	}
	return dir
}

// BenchmarkPeerStdio: agentmv's runtime server (the stdio binary) against the reference
// Postgres MCP server (@modelcontextprotocol/server-postgres, pinned in bench/peer), both
// spawned over stdio and called by the official TypeScript client, on the 1M-row events_mv
// as the runtime role, in interleaved rounds (see bench/peer/peer.mjs). Reports, per case,
// ours÷reference (median of the rounds' ratios) and each side's median µs per call. Goals:
// ≤ 0.7 for 1 row, ≤ 0.5 for 1,000 rows. scripts/peer-bench.sh writes the results into
// BENCHMARKS.md. PEER_ROUNDS and PEER_CALLS (default 200 rounds × 1 call per side) tune the run;
// PEER_ONLY=rows=1 runs one case. For build-against-build experiments, peer.mjs takes
// PEER_REF_BIN (another agentmv runtime binary on the reference side) and PEER_OURS_ENV.
func BenchmarkPeerStdio(b *testing.B) {
	dir := peerDeps(b)
	f := getQueryFixture(b)
	bin := testutil.Command(b, "agent-materialize-runtime-mcp")
	const cols = "id, grp, day, amount, label"
	cases := []peerCase{
		{"rows=1", "SELECT " + cols + " FROM agent_mv.events_mv WHERE id = 424242", 1},
		{"rows=1000", "SELECT " + cols + " FROM agent_mv.events_mv WHERE id BETWEEN 500001 AND 501000", 1000},
	}
	if only := os.Getenv("PEER_ONLY"); only != "" {
		cases = slices.DeleteFunc(cases, func(c peerCase) bool { return c.Name != only })
	}
	for b.Loop() {
		res := runPeer(b, dir, bin, f.proj.settings.RuntimeURL, cases, os.Getenv("PEER_ROUNDS"), os.Getenv("PEER_CALLS"))
		for _, r := range res {
			b.ReportMetric(r.Ratio, r.Case+"-ours/ref")
			b.ReportMetric(r.OursUs, r.Case+"-ours-µs")
			b.ReportMetric(r.RefUs, r.Case+"-ref-µs")
			b.Logf("%s: ours/ref %.3f (rounds %.3f–%.3f), ours %.0f µs, %s %.0f µs, %d calls each, node %s",
				r.Case, r.Ratio, r.RatioMin, r.RatioMax, r.OursUs, r.Ref, r.RefUs, r.Calls, r.Node)
		}
	}
}

// runPeer runs peer.mjs and returns its per-case results.
func runPeer(tb testing.TB, dir, bin, dsn string, cases []peerCase, rounds, calls string) []peerResult {
	tb.Helper()
	cj, err := json.Marshal(cases)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "peer.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AGENTMV_RUNTIME_BIN="+bin, "AGENT_MV_RUNTIME_URL="+dsn,
		"AGENT_MV_TARGET_SCHEMA=agent_mv", "PEER_CASES="+string(cj))
	if rounds != "" {
		cmd.Env = append(cmd.Env, "PEER_ROUNDS="+rounds)
	}
	if calls != "" {
		cmd.Env = append(cmd.Env, "PEER_CALLS="+calls)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("node peer.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var res []peerResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r peerResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatalf("peer.mjs printed %q: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	if len(res) != len(cases) {
		tb.Fatalf("peer.mjs reported %d cases, want %d:\n%s\nstderr:\n%s", len(res), len(cases), out, stderr.String())
	}
	for i, r := range res {
		if r.Case != cases[i].Name || !(r.Ratio > 0) || r.Calls < 1 {
			tb.Fatalf("peer.mjs case %d: %+v", i, r)
		}
	}
	return res
}
