package agentmv_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

// A view proposed with a tool through the setup server: an invalid tool is refused with
// nothing staged; the approved view's tool lands under tools: in materialize.yaml and plan
// accepts it (a new tool reading the new view).
func TestSetupProposeViewWithToolPlans(t *testing.T) {
	pr := demoProject(t)
	pr.apply()
	p := pr.open()
	reg, err := p.SetupTools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cs := mcpclient.Connect(t, tools.NewServer(tools.SetupServerName, "test", reg), nil)
	view := map[string]any{"name": "paid_orders", "rationale": "Payments per order",
		"sql": "SELECT order_id, sum(amount_cents) AS paid_cents FROM public.payments GROUP BY order_id"}
	propose := func(tool map[string]any) (string, bool) {
		args := map[string]any{"tool": tool}
		for k, v := range view {
			args[k] = v
		}
		return callText(t, cs, "propose_view", args)
	}
	staging := filepath.Join(pr.dir, tools.StagingFileName)
	for _, c := range []struct {
		tool map[string]any
		want string
	}{
		{map[string]any{"name": "paid_for", "description": "d", "sql": "SELECT * FROM public.payments WHERE order_id = @id",
			"parameters": []map[string]any{{"name": "id", "type": "integer", "required": true}}}, "payments"},
		{map[string]any{"name": "paid_for", "description": "d", "sql": "SELECT * FROM paid_orders",
			"parameters": []map[string]any{{"name": "id", "type": "integer", "required": true}}}, "never uses it"},
	} {
		out, isErr := propose(c.tool)
		if !isErr || !strings.Contains(out, `"message":"tool`) || !strings.Contains(out, c.want) {
			t.Errorf("invalid tool %v: %v %s", c.tool, isErr, out)
		}
		if _, err := os.Stat(staging); err == nil {
			t.Fatalf("a refused proposal staged something")
		}
	}
	if out, isErr := propose(map[string]any{"name": "paid_for", "description": "What was paid for one order.",
		"sql":        "SELECT order_id, paid_cents FROM paid_orders WHERE order_id = @id",
		"parameters": []map[string]any{{"name": "id", "type": "integer", "required": true, "min": 1}}}); isErr {
		t.Fatalf("propose: %s", out)
	}
	if out, isErr := callText(t, cs, "finalize_config", map[string]any{"approved_names": []string{"paid_orders"}}); isErr {
		t.Fatalf("finalize: %s", out)
	}
	yml := string(testutil.ReadFile(t, filepath.Join(pr.dir, "materialize.yaml")))
	if !strings.Contains(yml, "tools:") || !strings.Contains(yml, "name: paid_for") {
		t.Fatalf("materialize.yaml:\n%s", yml)
	}
	plan, err := pr.open().Plan(context.Background())
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	var found bool
	for _, s := range plan.Tools {
		if s.Tool == "paid_for" {
			found = s.Action == agentmv.ToolAdd && len(s.Reads) == 1 && s.Reads[0] == "paid_orders"
		}
	}
	if !found {
		t.Errorf("plan tools: %+v", plan.Tools)
	}
}
