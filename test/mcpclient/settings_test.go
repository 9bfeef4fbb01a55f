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

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/internal/pgtest"
)

// TestRuntimeEntryPointsResolveSettingsAlike: agent-materialize-runtime-mcp and `agent-mv mcp
// runtime` resolve their settings through one function. In a project whose materialize.yaml
// says target_schema: curated and whose .env holds the runtime DSN, both serve the curated
// view; without materialize.yaml both take the schema from the environment.
func TestRuntimeEntryPointsResolveSettingsAlike(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.Exec(t, `CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric NOT NULL);
INSERT INTO public.orders SELECT g, g FROM generate_series(1, 10) g;`)
	cli, runtimeBin := buildBinaries(t)
	const password = "Curated-pw_7"
	runtimeURL := db.URL(db.Prefix+"_runtime", password)

	project := t.TempDir()
	writeFile(t, filepath.Join(project, "materialize.yaml"), `version: 1
target_schema: curated
views:
  - name: order_totals
    sql_file: materialize/order_totals.sql
    description: One row with the number and sum of all orders.
`)
	writeFile(t, filepath.Join(project, "materialize", "order_totals.sql"), "SELECT count(*) AS orders, sum(amount) AS total FROM public.orders\n")
	writeFile(t, filepath.Join(project, ".env"), strings.Join([]string{
		"DATABASE_URL=" + db.AdminURL,
		"AGENT_MV_RUNTIME_URL=" + runtimeURL,
		"AGENT_MV_RUNTIME_PASSWORD=" + password,
		"AGENT_MV_RUNTIME_ROLE=" + db.Prefix + "_runtime",
		"AGENT_MV_OWNER_ROLE=" + db.Prefix + "_owner",
	}, "\n")+"\n")
	// Only PATH and HOME from the test's environment: no AGENT_MV_* or DATABASE_URL leaks in.
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	apply := exec.Command(cli, "apply", "--yes")
	apply.Dir, apply.Env = project, base
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("agent-mv apply --yes: %v\n%s", err, out)
	}

	noYAML := t.TempDir()
	for _, tc := range []struct {
		name string
		dir  string
		env  []string
	}{
		{"project with target_schema: curated and .env", project, base},
		{"no materialize.yaml, schema from the environment", noYAML,
			append(slices.Clone(base), "AGENT_MV_RUNTIME_URL="+runtimeURL, "AGENT_MV_TARGET_SCHEMA=curated")},
	} {
		for _, entry := range []struct {
			name string
			argv []string
		}{
			{"agent-materialize-runtime-mcp", []string{runtimeBin}},
			{"agent-mv mcp runtime", []string{cli, "mcp", "runtime"}},
		} {
			t.Run(tc.name+"/"+entry.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.Command(entry.argv[0], entry.argv[1:]...)
				cmd.Dir, cmd.Env = tc.dir, tc.env
				var stderr strings.Builder
				cmd.Stderr = &stderr
				cs, err := mcp.NewClient(&mcp.Implementation{Name: "go-test"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
				if err != nil {
					t.Fatalf("connect: %v\nstderr: %s", err, stderr.String())
				}
				defer cs.Close()
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "query_view", Arguments: map[string]any{"sql": "SELECT orders, total FROM order_totals"}})
				if err != nil || res.IsError {
					t.Fatalf("query_view: %v %+v\nstderr: %s", err, res, stderr.String())
				}
				var got struct {
					Rows [][]any `json:"rows"`
				}
				text := res.Content[0].(*mcp.TextContent).Text
				if err := json.Unmarshal([]byte(text), &got); err != nil {
					t.Fatalf("query_view result %s: %v", text, err)
				}
				if len(got.Rows) != 1 || len(got.Rows[0]) != 2 || got.Rows[0][0] != float64(10) {
					t.Fatalf("query_view on curated.order_totals: got %s, want one row with orders 10", text)
				}
			})
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
