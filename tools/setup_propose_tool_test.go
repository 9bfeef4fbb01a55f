package tools_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/tools"
)

// A tool proposed with a view passes the rule materialize.yaml's tools go through (the view
// counts as managed), is staged with it, and finalize_config hands it on; an invalid tool is
// refused and nothing is staged.
func TestProposeViewWithTool(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	staging := filepath.Join(se.root, tools.StagingFileName)
	view := map[string]any{"name": "order_totals", "sql": "SELECT id, amount FROM public.orders", "rationale": "orders"}
	with := func(tool map[string]any) map[string]any {
		args := map[string]any{}
		for k, v := range view {
			args[k] = v
		}
		args["tool"] = tool
		return args
	}
	param := []map[string]any{{"name": "min_amount", "type": "number", "description": "Smallest amount", "default": 10}}
	for _, c := range []struct {
		tool map[string]any
		want string
	}{
		{map[string]any{"name": "big_orders", "description": "Orders over an amount", "sql": "SELECT id FROM public.orders WHERE amount >= @min_amount", "parameters": param}, "orders"},
		{map[string]any{"name": "big_orders", "description": "Orders over an amount", "sql": "SELECT id FROM agent_mv.order_totals", "parameters": param}, "min_amount"},
		{map[string]any{"name": "Big", "description": "d", "sql": "SELECT id FROM agent_mv.order_totals"}, "tool name"},
		{map[string]any{"name": "query_view", "description": "d", "sql": "SELECT id FROM agent_mv.order_totals"}, "built-in"},
		{map[string]any{"name": "big_orders", "description": "d", "sql": "SELECT id FROM agent_mv.order_totals WHERE amount >= @nope"}, "nope"},
	} {
		te := toolErr(t, call(t, se.cs, "propose_view", with(c.tool)))
		if te.ErrorType != tools.ErrInvalidArgument || !strings.HasPrefix(te.Message, "tool") || !strings.Contains(te.Message, c.want) {
			t.Errorf("tool %v: %+v", c.tool, te)
		}
		if _, err := os.Stat(staging); err == nil {
			t.Fatalf("tool %v was refused but something was staged", c.tool)
		}
	}
	tool := map[string]any{"name": "big_orders", "description": "Orders over an amount", "parameters": param,
		"sql": "SELECT id, amount FROM agent_mv.order_totals WHERE amount >= @min_amount ORDER BY amount DESC"}
	out := decode[tools.StagingOutput](t, call(t, se.cs, "propose_view", with(tool)))
	if out.Proposed.Tool == nil || out.Proposed.Tool.Name != "big_orders" {
		t.Fatalf("staged: %+v", out.Proposed)
	}
	data, err := os.ReadFile(staging)
	if err != nil || !strings.Contains(string(data), "name: big_orders") || !strings.Contains(string(data), "min_amount") {
		t.Fatalf("staging file: %v\n%s", err, data)
	}
	// A second proposal: its tool may read the staged view, but not take a staged tool's name.
	second := map[string]any{"name": "order_ids", "sql": "SELECT id FROM public.orders", "rationale": "ids"}
	second["tool"] = map[string]any{"name": "big_orders", "description": "d", "sql": "SELECT id FROM agent_mv.order_ids"}
	if te := toolErr(t, call(t, se.cs, "propose_view", second)); te.ErrorType != tools.ErrInvalidArgument ||
		te.Message != "tool big_orders is already proposed with view order_totals" {
		t.Errorf("a staged tool's name taken again: %+v", te)
	}
	second["tool"] = map[string]any{"name": "id_totals", "description": "d", "sql": "SELECT i.id, t.amount FROM agent_mv.order_ids i JOIN agent_mv.order_totals t USING (id)"}
	if out := decode[tools.StagingOutput](t, call(t, se.cs, "propose_view", second)); len(out.Proposals) != 2 {
		t.Errorf("a tool reading two staged views was not staged: %+v", out)
	}
	call(t, se.cs, "finalize_config", map[string]any{"approved_names": []string{"order_totals"}})
	if len(se.added) != 1 || se.added[0][0].Tool == nil {
		t.Fatalf("AddViews got %+v", se.added)
	}
	got := *se.added[0][0].Tool
	if got.Name != "big_orders" || len(got.Parameters) != 1 || got.Parameters[0].Default == nil || !strings.Contains(got.SQL, "@min_amount") {
		t.Errorf("tool handed on: %+v", got)
	}
	if _, err := tools.CompileTool(got, "agent_mv", func(n string) bool { return n == "order_totals" }); err != nil {
		t.Errorf("the tool read back from staging no longer compiles: %v", err)
	}
}
