package reliability_test

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/tools"
)

// agentsSeed: support reads tickets, finance reads payments; neither may read the other's.
const agentsSeed = `
CREATE TABLE public.tickets (id int PRIMARY KEY, customer text NOT NULL, status text NOT NULL);
INSERT INTO public.tickets SELECT i, 'c' || (i % 5), CASE WHEN i % 3 = 0 THEN 'open' ELSE 'closed' END FROM generate_series(1, 30) i;
CREATE TABLE public.payments (id int PRIMARY KEY, day date NOT NULL, amount int NOT NULL);
INSERT INTO public.payments SELECT i, date '2026-01-01' + (i % 4), i * 10 FROM generate_series(1, 40) i;
`

const agentsYAML = `version: 1
target_schema: agent_mv
agents:
  - name: support
    description: Customer support assistant
    views: [open_tickets]
    token_env: SUPPORT_MCP_TOKEN
  - name: finance
    description: Finance analyst
    views: [daily_revenue]
    token_env: FINANCE_MCP_TOKEN
views:
  - name: open_tickets
    sql_file: materialize/open_tickets.sql
    description: Open tickets by customer.
  - name: daily_revenue
    sql_file: materialize/daily_revenue.sql
    description: Revenue per day.
`

// The agents' secrets, as the operator would export them. None of them may appear in the
// servers' output.
const (
	supportToken    = "support-tok-7d1e0c9b"
	financeToken    = "finance-tok-52a8f3e1"
	runtimeToken    = "runtime-tok-0b6c4d2a"
	supportPassword = "support-pw-q8r2"
	financePassword = "finance-pw-z4m9"
)

// agentsEnv is the two agents' tokens and role passwords.
var agentsEnv = []string{
	"SUPPORT_MCP_TOKEN=" + supportToken, "FINANCE_MCP_TOKEN=" + financeToken, "RUNTIME_MCP_TOKEN=" + runtimeToken,
	"AGENT_MV_AGENT_SUPPORT_PASSWORD=" + supportPassword, "AGENT_MV_AGENT_FINANCE_PASSWORD=" + financePassword,
}

// twoAgents is one agent of agentsYAML: its token, role password, its view and the other's.
type twoAgents struct {
	name, token, password, own, other string
}

var agentCases = []twoAgents{
	{"support", supportToken, supportPassword, "open_tickets", "daily_revenue"},
	{"finance", financeToken, financePassword, "daily_revenue", "open_tickets"},
}

// agentsProject is agentsYAML applied through the CLI, with the agents' secrets in the
// environment of every subprocess.
func agentsProject(t *testing.T) *project {
	t.Helper()
	pr := newProject(t, agentsSeed)
	pr.extraEnv = agentsEnv
	pr.write("materialize.yaml", agentsYAML)
	pr.write("materialize/open_tickets.sql", "SELECT customer, count(*) AS open FROM public.tickets WHERE status = 'open' GROUP BY customer\n")
	pr.write("materialize/daily_revenue.sql", "SELECT day, sum(amount) AS revenue FROM public.payments GROUP BY day\n")
	pr.mustRun("apply", "--yes")
	return pr
}

func (pr *project) agentRole(agent string) string { return pr.runtimeRole() + "_" + agent }

// hasCheck reports whether rep has a check called name with that status.
func hasCheck(rep doctorReport, name, status string) bool {
	for _, c := range rep.Checks {
		if c.Name == name && c.Status == status {
			return true
		}
	}
	return false
}

// checkAgentSession proves, through one MCP session of agent a, that it lists, describes,
// queries and refreshes its own view and is refused the other agent's with the same error a
// view that does not exist gets.
func checkAgentSession(t *testing.T, cs *mcp.ClientSession, a twoAgents) {
	t.Helper()
	ctx := context.Background()
	if r := callTool(ctx, cs, tools.ToolListViews, map[string]any{}); r.err != nil || r.errorType != "" ||
		!strings.Contains(r.text, a.own) || strings.Contains(r.text, a.other) {
		t.Errorf("%s: list_views: %s", a.name, r)
	}
	if r := callTool(ctx, cs, tools.ToolQueryView, map[string]any{"sql": "SELECT * FROM " + a.own}); r.err != nil || r.errorType != "" || !strings.Contains(r.text, `"row_count"`) {
		t.Errorf("%s: query its own view: %s", a.name, r)
	}
	if r := callTool(ctx, cs, tools.ToolRefreshView, map[string]any{"name": a.own}); r.err != nil || r.errorType != "" {
		t.Errorf("%s: refresh its own view: %s", a.name, r)
	}
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{tools.ToolQueryView, map[string]any{"sql": "SELECT * FROM " + a.other}},
		{tools.ToolQueryView, map[string]any{"sql": "SELECT * FROM agent_mv." + a.other}},
		{tools.ToolDescribeView, map[string]any{"name": a.other}},
		{tools.ToolRefreshView, map[string]any{"name": a.other}},
		{tools.ToolGetLineage, map[string]any{"name": a.other}},
	} {
		r := callTool(ctx, cs, c.tool, c.args)
		if r.err != nil || r.errorType == "" {
			t.Errorf("%s: %s %v was not refused: %s", a.name, c.tool, c.args, r)
			continue
		}
		if strings.Contains(r.text, `"revenue"`) || strings.Contains(r.text, `"open"`) {
			t.Errorf("%s: %s %v leaked the other view's columns: %s", a.name, c.tool, c.args, r)
		}
	}
}

// TestServeAgents runs `agent-mv serve` for a project with two agents with disjoint views:
// each agent's bearer token opens an MCP session on its own role that sees and queries only
// its view and is refused the other's; --token-env's token is the runtime role's (both views);
// a wrong or missing token gets 401 and no token ever appears in the output. Postgres enforces
// the same split on a plain connection as each agent's role. doctor is green, then red once one
// agent's role is granted the other's view by hand.
func TestServeAgents(t *testing.T) {
	t.Parallel()
	pr := agentsProject(t)
	if code, rep := pr.doctorJSON(); code != 0 || !rep.OK || !hasCheck(rep, "agent support", "ok") || !hasCheck(rep, "agent finance", "ok") {
		t.Fatalf("doctor after apply: exit %d\n%s", code, failing(rep))
	}

	srv := startServe(t, pr, nil, "--no-scheduler", "--token-env", "RUNTIME_MCP_TOKEN")
	url := srv.base + "/mcp"
	for _, a := range agentCases {
		t.Run(a.name, func(t *testing.T) {
			cs := httpSession(t, url, &http.Client{Transport: bearer{a.token, http.DefaultTransport}})
			checkAgentSession(t, cs, a)
		})
	}
	// The runtime role (--token-env) still reads every view.
	cs := httpSession(t, url, &http.Client{Transport: bearer{runtimeToken, http.DefaultTransport}})
	if r := callTool(context.Background(), cs, tools.ToolListViews, map[string]any{}); r.errorType != "" ||
		!strings.Contains(r.text, "open_tickets") || !strings.Contains(r.text, "daily_revenue") {
		t.Errorf("runtime token: list_views: %s", r)
	}
	for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + supportToken + "x", "Bearer " + financeToken[:len(financeToken)-1]} {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(initializeBody))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
	waitFor(t, 30*time.Second, "the rejected requests in serve's log", func() bool {
		return strings.Count(srv.log.String(), "request rejected") >= 4
	})
	for _, secret := range []string{supportToken, financeToken, runtimeToken, supportPassword, financePassword} {
		if strings.Contains(srv.log.String(), secret) {
			t.Errorf("serve's output contains a secret %q:\n%s", secret, srv.log)
		}
	}

	// An agent whose token_env is unset is not served, and serve says so before it listens
	// (its clients would otherwise get 401 with no clue why).
	one := startServe(t, pr, []string{"FINANCE_MCP_TOKEN="}, "--no-scheduler", "--token-env", "RUNTIME_MCP_TOKEN")
	if log := one.log.String(); !strings.Contains(log, "agent finance is not served over HTTP: its token_env FINANCE_MCP_TOKEN is not set") ||
		!strings.Contains(log, "serving agents support (") || strings.Contains(log, "agent support is not served") {
		t.Errorf("serve without FINANCE_MCP_TOKEN does not say finance is not served (or names support):\n%s", log)
	}

	// The boundary is Postgres's: each agent's role on a plain connection.
	ctx := context.Background()
	for _, a := range agentCases {
		conn, err := pgx.Connect(ctx, pr.db.URL(pr.agentRole(a.name), a.password))
		if err != nil {
			t.Fatalf("%s: log in as %s: %v", a.name, pr.agentRole(a.name), err)
		}
		if _, err := conn.Exec(ctx, "SELECT * FROM agent_mv."+a.own); err != nil {
			t.Errorf("%s: its role cannot read its own view: %v", a.name, err)
		}
		_, err = conn.Exec(ctx, "SELECT * FROM agent_mv."+a.other)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: its role read the other agent's view: %v", a.name, err)
		}
		conn.Close(ctx)
	}

	pr.db.Exec(t, "GRANT SELECT ON agent_mv.daily_revenue TO "+pgx.Identifier{pr.agentRole("support")}.Sanitize())
	code, rep := pr.doctorJSON()
	if code == 0 || rep.OK {
		t.Fatalf("doctor after granting support finance's view: exit %d, ok %v", code, rep.OK)
	}
	if f := failing(rep); !strings.Contains(f, "agent support") || !strings.Contains(f, "daily_revenue") {
		t.Errorf("doctor does not name agent support and daily_revenue:\n%s", f)
	}
}

// TestStdioAgent runs the stdio runtime server as each agent (`mcp runtime --agent NAME`, and
// the seed-named agent-materialize-runtime-mcp --agent NAME):
// its session lists and queries only that agent's view and is refused the other's; an
// unknown agent does not start.
func TestStdioAgent(t *testing.T) {
	t.Parallel()
	pr := agentsProject(t)
	for _, a := range agentCases {
		t.Run(a.name, func(t *testing.T) {
			checkAgentSession(t, stdioSession(t, pr, "--agent", a.name), a)
		})
	}
	// The seed-named stdio server takes --agent too.
	seed := testutil.Command(t, "agent-materialize-runtime-mcp")
	for _, a := range agentCases {
		t.Run("seed binary "+a.name, func(t *testing.T) {
			cmd := exec.Command(seed, "--agent", a.name)
			cmd.Dir, cmd.Env = pr.dir, pr.env()
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Wait)
			defer cancel()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "reliability"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
			if err != nil {
				t.Fatalf("start agent-materialize-runtime-mcp --agent %s: %v", a.name, err)
			}
			defer cs.Close()
			checkAgentSession(t, cs, a)
		})
	}
	res := pr.run("mcp", "runtime", "--agent", "suport")
	if res.code == 0 || !strings.Contains(res.stderr, "suport") {
		t.Errorf("mcp runtime --agent suport: exit %d\n%s", res.code, res.stderr)
	}
}
