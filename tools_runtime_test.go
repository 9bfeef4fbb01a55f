package agentmv_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/testutil"
)

// demoTools are declared tools over the demo's views (appended to its materialize.yaml).
const demoTools = `tools:
  - name: customer_by_email
    description: One customer's orders and lifetime spend, by email.
    sql: |
      SELECT customer_id, order_count, lifetime_value_cents
        FROM customer_rollup WHERE email = @email
    parameters:
      - {name: email, type: string, required: true, max_length: 200}
  - name: revenue_on
    description: Units and revenue per product on the given days.
    sql: SELECT day, sku, units_sold FROM daily_revenue WHERE day = ANY(@days) ORDER BY day, sku
    parameters:
      - {name: days, type: "date[]", required: true}
`

// mountProject serves the project's runtime tools (Project.RuntimeTools, as the runtime role)
// on an in-memory MCP session.
func mountProject(t *testing.T, p *agentmv.Project) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	reg, err := p.RuntimeTools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	reg.Mount(server)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := server.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close(); _ = ss.Wait() })
	return cs
}

func callText(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("CallTool(%s): %v", name, err)
	}
	return res.Content[0].(*mcp.TextContent).Text, res.IsError
}

func TestDeclaredToolsFromYAML(t *testing.T) {
	pr := demoProject(t)
	pr.write("materialize.yaml", string(testutil.ReadFile(t, pr.dir+"/materialize.yaml"))+demoTools)
	pr.apply()
	cs := mountProject(t, pr.open())
	out, isErr := callText(t, cs, "customer_by_email", map[string]any{"email": "bob@example.com"})
	var res struct {
		Rows [][]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &res); isErr || err != nil {
		t.Fatalf("customer_by_email: %s (%v)", out, err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] != float64(2) || res.Rows[0][1] != float64(1) || res.Rows[0][2] != float64(9900) {
		t.Errorf("customer_by_email(bob) rows = %v, want [[2 1 9900]]", res.Rows)
	}
	out, isErr = callText(t, cs, "revenue_on", map[string]any{"days": []string{"2025-12-20", "2025-12-25"}})
	if err := json.Unmarshal([]byte(out), &res); isErr || err != nil {
		t.Fatalf("revenue_on: %s (%v)", out, err)
	}
	if len(res.Rows) != 2 || res.Rows[0][1] != "SKU-001" || res.Rows[1][1] != "SKU-002" {
		t.Errorf("revenue_on rows = %v", res.Rows)
	}
	if out, isErr = callText(t, cs, "customer_by_email", map[string]any{"email": "x' OR 'x'='x"}); isErr || !strings.Contains(out, `"row_count":0`) {
		t.Errorf("injection through email: %s", out)
	}
}

// TestDeclaredToolOverBaseTableRefusedAtPlan: plan (which loads the config) refuses a tool
// that reads a base table, with the YAML line.
func TestDeclaredToolOverBaseTableRefusedAtPlan(t *testing.T) {
	pr := demoProject(t)
	yaml := string(testutil.ReadFile(t, pr.dir+"/materialize.yaml"))
	line := strings.Count(yaml, "\n") + 4
	pr.write("materialize.yaml", yaml+"tools:\n  - name: emails\n    description: all emails\n    sql: SELECT email FROM public.users\n")
	_, err := agentmv.Open(context.Background(), agentmv.Options{ConfigPath: pr.dir + "/materialize.yaml", DotenvPath: "-",
		Overrides: pr.settings, Environ: func(string) (string, bool) { return "", false }})
	want := "line " + strconv.Itoa(line) + `: tool "emails": sql: relation public.users is outside schema agent_mv`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("open = %v, want %q", err, want)
	}
}
