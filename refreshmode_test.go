package agentmv_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/refresh"
)

// TestConcurrentRefreshAgreement plants unique indexes Postgres cannot use for REFRESH ...
// CONCURRENTLY (partial, expression, not valid after a failed CREATE UNIQUE INDEX
// CONCURRENTLY on duplicate data, a declared index replaced by a partial one) and an
// unpopulated view, and checks that plan, describe_view (over MCP), doctor and the refresh
// function itself all give the same mode and reason for each view.
func TestConcurrentRefreshAgreement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pr := newProject(t, `
CREATE TABLE t (id int PRIMARY KEY, k int NOT NULL);
INSERT INTO t SELECT g, g % 3 FROM generate_series(1, 30) g;`)
	views := []string{"v_ok", "v_partial", "v_expr", "v_invalid", "v_unpopulated", "v_replaced"}
	yaml := "version: 1\ntarget_schema: agent_mv\nviews:\n"
	for _, v := range views {
		pr.write("materialize/"+v+".sql", "SELECT id, k FROM public.t")
		yaml += "  - name: " + v + "\n    sql_file: materialize/" + v + ".sql\n    description: ids and keys of t\n"
		switch v {
		case "v_ok", "v_unpopulated", "v_replaced":
			yaml += "    indexes:\n      - columns: [id]\n        unique: true\n"
		}
	}
	pr.write("materialize.yaml", yaml)
	pr.apply()

	// Unusable unique indexes, planted the way an operator might (the admin is a superuser).
	pr.db.Exec(t, `CREATE UNIQUE INDEX v_partial_pos ON agent_mv.v_partial (id) WHERE id > 0`)
	pr.db.Exec(t, `CREATE UNIQUE INDEX v_expr_plus ON agent_mv.v_expr ((id + 0))`)
	if _, err := pr.admin.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY v_invalid_k ON agent_mv.v_invalid (k)`); err == nil {
		t.Fatal("CREATE UNIQUE INDEX CONCURRENTLY on duplicate k succeeded; the test needs it to fail")
	}
	pr.db.Exec(t, `REFRESH MATERIALIZED VIEW agent_mv.v_unpopulated WITH NO DATA`)
	pr.db.Exec(t, `DROP INDEX agent_mv.v_replaced_id_idx; CREATE UNIQUE INDEX v_replaced_id_idx ON agent_mv.v_replaced (id) WHERE id > 0`)

	want := map[string]boundary.RefreshMode{
		"v_ok":          {Concurrent: true, Mode: "concurrent", Reason: "unique index v_ok_id_idx", Index: "v_ok_id_idx"},
		"v_partial":     {Mode: "blocking", Reason: "no usable unique index (partial index v_partial_pos has a WHERE clause)"},
		"v_expr":        {Mode: "blocking", Reason: "no usable unique index (expression index v_expr_plus indexes expressions)"},
		"v_invalid":     {Mode: "blocking", Reason: "no usable unique index (unique index v_invalid_k is not valid)"},
		"v_unpopulated": {Mode: "blocking", Reason: "not populated yet"},
		"v_replaced":    {Mode: "blocking", Reason: "no usable unique index (partial index v_replaced_id_idx has a WHERE clause)"},
	}
	p := pr.open()

	// boundary.RefreshModes, the shared definition.
	modes, err := boundary.RefreshModes(ctx, pr.admin, p.Names(), "")
	if err != nil {
		t.Fatal(err)
	}
	for v, w := range want {
		if modes[v] != w {
			t.Errorf("RefreshModes[%s] = %+v, want %+v", v, modes[v], w)
		}
	}

	// plan: nothing to change, and each step says how the view will refresh.
	plan, err := p.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for v, w := range want {
		s, ok := plan.Step(v)
		if !ok || s.Action != agentmv.ActionUnchanged || s.Refresh == nil {
			t.Errorf("plan step %s = %+v, want unchanged with a refresh mode", v, s)
			continue
		}
		if *s.Refresh != w {
			t.Errorf("plan: %s refresh = %+v, want %+v", v, *s.Refresh, w)
		}
	}
	if !strings.Contains(plan.String(), "v_replaced refreshes block readers: "+want["v_replaced"].Reason) {
		t.Errorf("plan text does not flag the declared unique index that cannot be used:\n%s", plan)
	}

	// describe_view, as an agent sees it over MCP.
	cs := mountProject(t, p)
	for v, w := range want {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "describe_view", Arguments: map[string]any{"name": v}})
		if err != nil || res.IsError {
			t.Fatalf("describe_view %s: %v %+v", v, err, res)
		}
		var out struct {
			ConcurrentRefresh bool   `json:"concurrent_refresh"`
			Reason            string `json:"refresh_mode_reason"`
		}
		if err := json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &out); err != nil {
			t.Fatal(err)
		}
		if out.ConcurrentRefresh != w.Concurrent || out.Reason != w.Reason {
			t.Errorf("describe_view %s: concurrent_refresh=%v reason=%q, want %v %q", v, out.ConcurrentRefresh, out.Reason, w.Concurrent, w.Reason)
		}
	}

	// doctor: lists every blocking view with the same reason; warns about the declared
	// unique index that cannot be used.
	rep, err := p.Doctor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var refreshChecks []boundary.Check
	for _, c := range rep.Checks {
		if c.Name == "refresh mode" {
			refreshChecks = append(refreshChecks, c)
		}
	}
	if len(refreshChecks) != 1 {
		t.Fatalf("doctor has %d refresh mode checks, want 1:\n%s", len(refreshChecks), rep)
	}
	c := refreshChecks[0]
	if c.Status != boundary.CheckWarn || !strings.Contains(c.Message, "v_replaced ("+want["v_replaced"].Reason+")") {
		t.Errorf("doctor refresh mode check = %+v, want a warning naming v_replaced and its reason", c)
	}
	for v, w := range want {
		listed := strings.Contains(c.Message, v+" ("+w.Reason+")")
		if listed == w.Concurrent {
			t.Errorf("doctor: %s listed as blocking = %v, want %v:\n%s", v, listed, !w.Concurrent, rep)
		}
	}

	// The function itself, as the runtime role: the mode and reason it chose and recorded.
	for v, w := range want {
		res, err := p.Refresh(ctx, v)
		var failed *refresh.FailedError
		switch {
		case v == "v_invalid":
			// A REFRESH rebuilds every index, the invalid one too, and fails on the duplicates:
			// the function still chose (and recorded) the blocking mode.
			if !errors.As(err, &failed) || failed.SQLState() != "23505" {
				t.Errorf("refresh v_invalid: %v, want a recorded failure with SQLSTATE 23505", err)
			}
		case err != nil:
			t.Fatalf("refresh %s: %v", v, err)
		}
		if res.Mode != w.Mode || res.ModeReason != w.Reason {
			t.Errorf("refresh_view(%s): mode %s (%s), want %s (%s)", v, res.Mode, res.ModeReason, w.Mode, w.Reason)
		}
	}
}
