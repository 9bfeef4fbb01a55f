package agentmv_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/pglocal"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/tools"
)

// sessionState is what a tool call could leave behind on a server connection.
type sessionState struct {
	SearchPath, StatementTimeout, IdleInTxTimeout, DateStyle string
	PreparedStatements, Cursors                              int
}

const sessionStateSQL = `SELECT pg_backend_pid(), current_setting('search_path'), current_setting('statement_timeout'),
	current_setting('idle_in_transaction_session_timeout'), current_setting('DateStyle'),
	(SELECT count(*) FROM pg_prepared_statements)::int, (SELECT count(*) FROM pg_cursors WHERE name <> '')::int`

func readSessionState(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (pid int32, s sessionState, err error) {
	err = q.QueryRow(ctx, sessionStateSQL).Scan(&pid, &s.SearchPath, &s.StatementTimeout, &s.IdleInTxTimeout,
		&s.DateStyle, &s.PreparedStatements, &s.Cursors)
	return pid, s, err
}

// TestRuntimeThroughPgBouncer runs all five runtime tools from 8 concurrent clients through
// a transaction-pooling PgBouncer (Debian's, 1.18: no prepared statement support), each
// client with its own statement timeout, then inspects every server connection PgBouncer
// holds: no setting, prepared statement or cursor of any tool call is left on it.
func TestRuntimeThroughPgBouncer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	oc := startOwnCluster(t)
	bouncer, err := oc.primary.StartPgBouncer(ctx, "transaction", []pglocal.BouncerUser{{Name: ownRuntimeRole, Password: runtimePassword}})
	if errors.Is(err, pglocal.ErrNoPgBouncer) {
		testutil.SkipOrFail(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bouncer.Close() })

	// What a fresh session of the runtime role sees, straight on the server (unnamed
	// statements, so that the probe itself leaves no prepared statement).
	dcfg, err := pgx.ParseConfig(oc.runtimeURL)
	if err != nil {
		t.Fatal(err)
	}
	dcfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	direct, err := pgx.ConnectConfig(ctx, dcfg)
	if err != nil {
		t.Fatal(err)
	}
	_, baseline, err := readSessionState(ctx, direct)
	direct.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if baseline.PreparedStatements != 0 || baseline.Cursors != 0 {
		t.Fatalf("a fresh session already has prepared statements or cursors: %+v", baseline)
	}

	// The DSN as an operator would write it: no exec mode; RuntimeOptions.Pooler picks it.
	u, err := url.Parse(bouncer.URL(ownRuntimeRole, runtimePassword, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("default_query_exec_mode")
	u.RawQuery = q.Encode()
	bouncerURL := u.String()

	const clients, rounds = 8, 12
	views := []string{"customer_rollup", "daily_revenue", "top_customers_30d"}
	queries := []string{
		`SELECT customer_id, email, lifetime_value_cents FROM customer_rollup ORDER BY customer_id`,
		`SELECT d.day, d.sku, d.units_sold FROM daily_revenue d ORDER BY 1, 2`,
		`SELECT t.email, r.order_count FROM top_customers_30d t JOIN customer_rollup r USING (customer_id)`,
		`SELECT view_name, status FROM refresh_history ORDER BY id DESC`,
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt, err := agentmv.OpenRuntime(ctx, bouncerURL, agentmv.RuntimeOptions{Pooler: true, MaxConns: 2,
				Limits: tools.Limits{StatementTimeout: time.Duration(2000+37*c) * time.Millisecond}})
			if err != nil {
				t.Errorf("client %d: OpenRuntime through pgbouncer: %v", c, err)
				return
			}
			defer rt.Close()
			reg := rt.Tools()
			call := func(tool string, args any) (map[string]any, *tools.ToolError) {
				b, _ := json.Marshal(args)
				res := reg.Call(ctx, tool, b)
				body := res.Content[0].(*mcp.TextContent).Text
				if res.IsError {
					var te tools.ToolError
					if err := json.Unmarshal([]byte(body), &te); err != nil {
						t.Errorf("client %d: %s: tool error is not JSON: %v: %s", c, tool, err, body)
					}
					return nil, &te
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(body), &m); err != nil {
					t.Errorf("client %d: %s: %v", c, tool, err)
				}
				return m, nil
			}
			for r := range rounds {
				view := views[(c+r)%len(views)]
				for _, step := range []struct {
					tool string
					args any
				}{
					{tools.ToolListViews, struct{}{}},
					{tools.ToolDescribeView, name{view}},
					{tools.ToolQueryView, map[string]any{"sql": queries[(c+r)%len(queries)], "limit": 1 + r}},
					{tools.ToolGetLineage, name{view}},
					{tools.ToolRefreshView, name{view}},
				} {
					out, te := call(step.tool, step.args)
					if te != nil {
						t.Errorf("client %d round %d: %s: %s: %s", c, r, step.tool, te.ErrorType, te.Message)
						continue
					}
					if _, ok := out["served_by"]; ok {
						t.Errorf("client %d: %s reports served_by without replicas: %v", c, step.tool, out["served_by"])
					}
					if step.tool == tools.ToolRefreshView && !slices.Contains([]any{"success", "busy", "fresh"}, out["status"]) {
						t.Errorf("client %d round %d: refresh_view %s: %v", c, r, view, out)
					}
				}
				// A query that fails inside its transaction (after SET LOCAL and DECLARE).
				if _, te := call(tools.ToolQueryView, query{"SELECT 1 / (order_count - order_count) FROM customer_rollup"}); te == nil || te.ErrorType != tools.ErrQuery {
					t.Errorf("client %d round %d: division by zero: %+v", c, r, te)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Every server connection PgBouncer keeps for the runtime role, as the server sees them.
	rows, err := oc.admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'`, ownRuntimeRole)
	if err != nil {
		t.Fatal(err)
	}
	serverPIDs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	if len(serverPIDs) == 0 {
		t.Fatal("pgbouncer holds no server connection for the runtime role after the run")
	}
	// As many raw clients through the same bouncer, each inside a transaction, so that each
	// holds a different server connection: together they see all of them.
	seen := map[int32]bool{}
	var raw []*pgx.Conn
	defer func() {
		for _, c := range raw {
			c.Close(ctx)
		}
	}()
	for i := range serverPIDs {
		c, err := pgx.Connect(ctx, bouncer.URL(ownRuntimeRole, runtimePassword, "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, c)
		if _, err := c.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		pid, st, err := readSessionState(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		seen[pid] = true
		if st != baseline {
			t.Errorf("raw client %d on server pid %d: session state %+v, want a fresh session's %+v", i, pid, st, baseline)
		}
		var searchPath, timeout string
		if err := c.QueryRow(ctx, "SHOW search_path").Scan(&searchPath); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil {
			t.Fatal(err)
		}
		if searchPath != baseline.SearchPath || timeout != baseline.StatementTimeout {
			t.Errorf("raw client %d: SHOW search_path = %q, statement_timeout = %q", i, searchPath, timeout)
		}
	}
	for _, pid := range serverPIDs {
		if !seen[pid] {
			t.Errorf("server connection pid %d was not inspected (saw %v of %v)", pid, seen, serverPIDs)
		}
	}
	t.Logf("inspected %d server connections; baseline %+v", len(seen), baseline)
}
