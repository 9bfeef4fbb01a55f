package agentmv_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/testutil"
)

// toolActions maps each tool of a plan to its action.
func toolActions(p *agentmv.Plan) map[string]agentmv.ToolAction {
	out := map[string]agentmv.ToolAction{}
	for _, s := range p.Tools {
		out[s.Tool] = s.Action
	}
	return out
}

func planOf(t *testing.T, pr *project) *agentmv.Plan {
	t.Helper()
	plan, err := pr.open().Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// recordedTools reads <S>.declared_tools as the admin: name -> hash.
func recordedTools(t *testing.T, pr *project) map[string]string {
	t.Helper()
	rows, err := pr.admin.Query(context.Background(), `SELECT name, spec_hash FROM agent_mv.declared_tools`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, h string
		if err := rows.Scan(&n, &h); err != nil {
			t.Fatal(err)
		}
		out[n] = h
	}
	return out
}

// TestPlanShowsToolChanges: apply records the declared tools (their declaration's hash) in
// <S>.declared_tools, so plan shows added, changed and removed tools, in words and in JSON,
// apply's summary counts them, and a plan that changes only tools is a change.
func TestPlanShowsToolChanges(t *testing.T) {
	pr := demoProject(t)
	path := pr.dir + "/materialize.yaml"
	base := string(testutil.ReadFile(t, path))
	pr.write("materialize.yaml", base+demoTools)

	// Added: both tools are new (the database has no record of them yet).
	plan := planOf(t, pr)
	if got := toolActions(plan); got["customer_by_email"] != agentmv.ToolAdd || got["revenue_on"] != agentmv.ToolAdd || len(got) != 2 {
		t.Fatalf("first plan's tools = %v", got)
	}
	if !strings.Contains(plan.String(), "+ tool customer_by_email") || !strings.Contains(plan.String(), "new tool; reads customer_rollup") ||
		!strings.Contains(plan.String(), "Tools: 2 to add, 0 to change, 0 to remove, 0 unchanged.") {
		t.Errorf("first plan:\n%s", plan)
	}
	res := pr.apply()
	if done := res.Plan.Done(); !strings.HasSuffix(done, "; tools: 2 added, 0 changed, 0 removed") {
		t.Errorf("apply summary = %q", done)
	}
	cfg := pr.open().Config()
	rec := recordedTools(t, pr)
	for _, tc := range cfg.Tools {
		if rec[tc.Name] != tc.Hash() {
			t.Errorf("declared_tools[%s] = %q, want the declaration's hash %q", tc.Name, rec[tc.Name], tc.Hash())
		}
	}

	// Unchanged: nothing to do.
	plan = planOf(t, pr)
	if plan.Changes() || plan.CountTools(agentmv.ToolUnchanged) != 2 {
		t.Fatalf("plan after apply changes something:\n%s", plan)
	}

	// Changed, added and removed, with no view changing: still a change for apply.
	pr.edit("materialize.yaml", "ORDER BY day, sku", "ORDER BY sku, day")
	yaml := string(testutil.ReadFile(t, path))
	yaml = strings.Replace(yaml, `  - name: customer_by_email
    description: One customer's orders and lifetime spend, by email.
    sql: |
      SELECT customer_id, order_count, lifetime_value_cents
        FROM customer_rollup WHERE email = @email
    parameters:
      - {name: email, type: string, required: true, max_length: 200}
`, "", 1)
	pr.write("materialize.yaml", yaml+`  - name: biggest_days
    description: The days with the most units sold.
    sql: SELECT day, sum(units_sold) AS units FROM daily_revenue GROUP BY day ORDER BY units DESC LIMIT 5
`)
	plan = planOf(t, pr)
	want := map[string]agentmv.ToolAction{"biggest_days": agentmv.ToolAdd, "revenue_on": agentmv.ToolChange, "customer_by_email": agentmv.ToolRemove}
	if got := toolActions(plan); len(got) != 3 || got["biggest_days"] != want["biggest_days"] || got["revenue_on"] != want["revenue_on"] || got["customer_by_email"] != want["customer_by_email"] {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	if plan.Count(agentmv.ActionUnchanged) != len(plan.Steps) || !plan.Changes() {
		t.Errorf("only tools change, and that is a change: changes=%v\n%s", plan.Changes(), plan)
	}
	text := strings.Join(strings.Fields(plan.String()), " ")
	for _, line := range []string{"~ tool revenue_on change SQL changed",
		"- tool customer_by_email remove removed from materialize.yaml",
		"+ tool biggest_days add new tool; reads daily_revenue",
		"Tools: 1 to add, 1 to change, 1 to remove, 0 unchanged."} {
		if !strings.Contains(text, line) {
			t.Errorf("plan lacks %q:\n%s", line, plan)
		}
	}
	var js struct {
		Tools []struct {
			Tool, Action, Reason string
		} `json:"tools"`
	}
	b, _ := json.Marshal(plan)
	if err := json.Unmarshal(b, &js); err != nil || len(js.Tools) != 3 || js.Tools[2].Tool != "revenue_on" || js.Tools[2].Action != "change" || js.Tools[2].Reason != "SQL changed" {
		t.Errorf("JSON plan's tools: %s", b)
	}
	res = pr.apply()
	if done := res.Plan.Done(); !strings.HasSuffix(done, "0 dropped; tools: 1 added, 1 changed, 1 removed") {
		t.Errorf("apply summary = %q", done)
	}
	if rec := recordedTools(t, pr); len(rec) != 2 || rec["customer_by_email"] != "" || rec["biggest_days"] == "" {
		t.Errorf("declared_tools after the second apply = %v", rec)
	}
	// A description edit says so.
	pr.edit("materialize.yaml", "The days with the most units sold.", "The five days with the most units sold.")
	plan = planOf(t, pr)
	if got := plan.Tools[0]; got.Tool != "biggest_days" || got.Action != agentmv.ToolChange || got.Reason != "description changed" {
		t.Errorf("description edit: %+v", got)
	}

	// The runtime role serves the tools from materialize.yaml: it cannot read the record.
	rt, err := pr.open().RuntimePool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = rt.QueryRow(context.Background(), "SELECT count(*) FROM agent_mv.declared_tools").Scan(&n)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("runtime role reading declared_tools: %v, want permission denied", err)
	}
}
