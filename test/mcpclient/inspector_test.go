package mcpclient_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/test/mcpclient"
)

// TestInspectorCLI: a third-party client, the official MCP Inspector's CLI (npm
// @modelcontextprotocol/inspector, pinned in package.json), drives the runtime binary over
// stdio: tools/list, tools/call query_view, prompts/list and resources/read.
func TestInspectorCLI(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		testutil.SkipOrFail(t, "node is not installed (apt-get install -y nodejs npm)")
	}
	inspector := filepath.Join("node_modules", "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js")
	if _, err := os.Stat(inspector); err != nil {
		npm, lerr := exec.LookPath("npm")
		if lerr != nil {
			testutil.SkipOrFail(t, "npm is not installed and node_modules is missing (apt-get install -y npm)")
		}
		if out, err := exec.Command(npm, "ci", "--no-audit", "--no-fund").CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	env := mcpclient.Setup(t)
	_, bin := buildBinaries(t)
	home := t.TempDir() // the Inspector's catalog and settings stay out of the real HOME
	run := func(args ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		argv := append([]string{inspector, "--cli",
			"-e", "AGENT_MV_RUNTIME_URL=" + env.RuntimeURL, "-e", "AGENT_MV_TARGET_SCHEMA=" + env.Names.Schema,
			"--cwd", home, bin}, args...)
		cmd := exec.CommandContext(ctx, "node", argv...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("inspector %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("inspector %s: output is not one JSON object: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	names := func(list any, key string) []string {
		var out []string
		for _, it := range list.([]any) {
			out = append(out, it.(map[string]any)[key].(string))
		}
		slices.Sort(out)
		return out
	}

	tl := run("--method", "tools/list")
	if got := names(tl["tools"], "name"); !slices.Equal(got, []string{"describe_view", "get_lineage", "list_views", "query_view", "refresh_view"}) {
		t.Errorf("tools/list: %v", got)
	}
	q := run("--method", "tools/call", "--tool-name", "query_view", "--tool-arg", "sql=SELECT customer_id, revenue FROM customer_rollup ORDER BY customer_id", "limit=2")
	sc, _ := q["structuredContent"].(map[string]any)
	if q["isError"] == true || sc == nil || sc["row_count"] != float64(2) || sc["truncated"] != true {
		t.Errorf("tools/call query_view: %v", q)
	}
	if rows, _ := sc["rows"].([]any); len(rows) != 2 || len(rows[0].([]any)) != 2 {
		t.Errorf("query_view rows: %v", sc["rows"])
	}
	pl := run("--method", "prompts/list")
	if got := names(pl["prompts"], "name"); !slices.Equal(got, []string{"query-views"}) {
		t.Errorf("prompts/list: %v", got)
	}
	rr := run("--method", "resources/read", "--uri", "agentmv://agent_mv/views/customer_rollup")
	contents, _ := rr["contents"].([]any)
	if len(contents) != 1 {
		t.Fatalf("resources/read: %v", rr)
	}
	text, _ := contents[0].(map[string]any)["text"].(string)
	if !strings.Contains(text, `"description":"Sum of the order amounts, in euros"`) || strings.Contains(text, "GROUP BY") {
		t.Errorf("resources/read customer_rollup: %s", text)
	}
}
