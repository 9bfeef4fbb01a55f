package mcpclient_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/test/mcpclient"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// buildBinaries returns agent-mv and agent-materialize-runtime-mcp, built once per test binary.
func buildBinaries(t *testing.T) (cli, runtimeBin string) {
	t.Helper()
	return buildBinary(t, "agent-mv"), buildBinary(t, "agent-materialize-runtime-mcp")
}

// buildBinary returns ./cmd/<pkg> built with buildTags (once per test binary).
func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	var tags []string
	if buildTags != "" {
		tags = append(tags, buildTags)
	}
	return testutil.Command(t, pkg, tags...)
}

// TestStdioBinary drives the built runtime binary over stdio with the Go SDK.
func TestStdioBinary(t *testing.T) {
	t.Parallel()
	env := mcpclient.Setup(t)
	_, bin := buildBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir() // no .env there
	cmd.Env = []string{"AGENT_MV_RUNTIME_URL=" + env.RuntimeURL, "AGENT_MV_TARGET_SCHEMA=" + env.Names.Schema}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "go-test"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if name := cs.InitializeResult().ServerInfo.Name; name != "agent-materialize-runtime" {
		t.Errorf("server name %q", name)
	}
	lt, err := cs.ListTools(ctx, nil)
	if err != nil || len(lt.Tools) != 5 {
		t.Fatalf("tools/list: %v %d", err, len(lt.Tools))
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_lineage", Arguments: map[string]any{"name": "top_customers"}})
	if err != nil || res.IsError {
		t.Fatalf("get_lineage: %v %+v", err, res)
	}
	var lin struct {
		DependsOn []string `json:"depends_on"`
	}
	if err := json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &lin); err != nil || !slices.Equal(lin.DependsOn, []string{"customer_rollup"}) {
		t.Errorf("get_lineage: %v %+v", err, lin)
	}
}

// TestStdioBinaryRefusesUnsafeRole: pointed at the superuser, the runtime server refuses to
// start and says what to fix.
func TestStdioBinaryRefusesUnsafeRole(t *testing.T) {
	t.Parallel()
	env := mcpclient.Setup(t)
	_, bin := buildBinaries(t)
	for _, c := range []struct{ url, want string }{
		{env.DB.AdminURL, "superuser"},
		{"", "AGENT_MV_RUNTIME_URL is required for runtime-mcp"},
	} {
		cmd := exec.Command(bin)
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"AGENT_MV_RUNTIME_URL=" + c.url}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("url %q: err=%v output=%s", c.url, err, out)
		}
		if u, perr := url.Parse(c.url); perr == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && strings.Contains(string(out), pw) {
				t.Errorf("output leaks the DSN password: %s", out)
			}
		}
	}
}

// TestNodeClient runs test.mjs: the official TypeScript SDK against the stdio binary and the
// HTTP server (with and without the bearer token).
func TestNodeClient(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		testutil.SkipOrFail(t, "node is not installed (apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat("node_modules/@modelcontextprotocol/sdk"); err != nil {
		npm, lerr := exec.LookPath("npm")
		if lerr != nil {
			testutil.SkipOrFail(t, "npm is not installed and node_modules is missing (apt-get install -y npm)")
		}
		if out, err := exec.Command(npm, "ci", "--no-audit", "--no-fund").CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	env := mcpclient.Setup(t)
	cli, bin := buildBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "test.mjs")
	cmd.Env = append(os.Environ(),
		"AGENTMV_RUNTIME_BIN="+bin, "AGENTMV_CLI_BIN="+cli,
		"AGENT_MV_RUNTIME_URL="+env.RuntimeURL, "AGENT_MV_TARGET_SCHEMA="+env.Names.Schema,
		"AGENTMV_QUERY_GUARD="+queryGuard)
	out, err := cmd.CombinedOutput()
	t.Logf("node test.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("node test.mjs: %v", err)
	}
	for _, want := range []string{"ok stdio", "ok http", "all ok"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestPeerBenchSmoke runs the peer benchmark's driver (bench/peer/peer.mjs) for two short
// rounds on the small fixture: both servers start over stdio, answer with the expected rows,
// and the driver reports a ratio. The full benchmark is bench.BenchmarkPeerStdio
// (scripts/peer-bench.sh); this only proves the script works.
func TestPeerBenchSmoke(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		testutil.SkipOrFail(t, "node is not installed (apt-get install -y nodejs npm)")
	}
	dir := filepath.Join("..", "..", "bench", "peer")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "server-postgres")); err != nil {
		npm, lerr := exec.LookPath("npm")
		if lerr != nil {
			testutil.SkipOrFail(t, "npm is not installed and bench/peer/node_modules is missing (apt-get install -y npm)")
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in bench/peer: %v\n%s", err, out)
		}
	}
	env := mcpclient.Setup(t)
	bin := buildBinary(t, "agent-materialize-runtime-mcp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "peer.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AGENTMV_RUNTIME_BIN="+bin,
		"AGENT_MV_RUNTIME_URL="+env.RuntimeURL, "AGENT_MV_TARGET_SCHEMA="+env.Names.Schema,
		"PEER_ROUNDS=2", "PEER_CALLS=1", "PEER_WARMUP=1",
		`PEER_CASES=[{"name":"rows=5","sql":"SELECT customer_id, revenue FROM agent_mv.customer_rollup ORDER BY customer_id LIMIT 5","rows":5}]`)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node peer.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var res struct {
		Case      string  `json:"case"`
		Calls     int     `json:"calls"`
		Ratio     float64 `json:"ratio"`
		OursUs    float64 `json:"ours_us"`
		RefUs     float64 `json:"ref_us"`
		Reference string  `json:"reference"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("peer.mjs output %q: %v", out, err)
	}
	if res.Case != "rows=5" || res.Calls != 2 || !(res.Ratio > 0) || !(res.OursUs > 0) || !(res.RefUs > 0) ||
		res.Reference != "@modelcontextprotocol/server-postgres@0.6.2" {
		t.Errorf("peer.mjs result %+v", res)
	}
}
