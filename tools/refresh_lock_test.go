package tools_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/tools"
)

// TestRefreshViewLockWaitIsBounded: over a real MCP session, refresh_view on a view whose base
// table another session has locked answers within the view's lock timeout (the default here)
// with a refresh_failed error naming SQLSTATE 55P03, the table and the blocking pid, instead
// of hanging until the client gives up; the failure is recorded.
func TestRefreshViewLockWaitIsBounded(t *testing.T) {
	t.Parallel()
	env, cs := runtimeSession(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.DB.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	te := toolErr(t, call(t, cs, "refresh_view", map[string]any{"name": "daily_revenue"}))
	for _, want := range []string{"SQLSTATE 55P03", "lock timeout after 5s", "table public.orders",
		fmt.Sprintf("pid %d", conn.PgConn().PID()), "AccessExclusiveLock"} {
		if !strings.Contains(te.Message, want) {
			t.Errorf("message %q lacks %q", te.Message, want)
		}
	}
	if te.ErrorType != tools.ErrRefreshFailed || !strings.Contains(te.Hint, "try again") {
		t.Errorf("error %+v: want refresh_failed with a hint to try again", te)
	}
	var state string
	if err := env.Admin.QueryRow(ctx, `SELECT sqlstate FROM agent_mv.refresh_history
	  WHERE view_name = 'daily_revenue' ORDER BY id DESC LIMIT 1`).Scan(&state); err != nil || state != "55P03" {
		t.Errorf("last history row: sqlstate %q, %v; want 55P03", state, err)
	}
}
