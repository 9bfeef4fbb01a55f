package refresh_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/refresh"
)

func statusOf(t *testing.T, f *fixture) map[string]refresh.ViewStatus {
	t.Helper()
	st, err := f.client.Status(context.Background())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	out := map[string]refresh.ViewStatus{}
	for i, s := range st {
		if i > 0 && st[i-1].Name >= s.Name {
			t.Errorf("status not sorted by name: %s before %s", st[i-1].Name, s.Name)
		}
		out[s.Name] = s
	}
	return out
}

// TestStatusRunning: Running is true while another session holds a refresh (here: refresh_view
// called inside an open transaction, which keeps the lock until commit). A killed backend
// leaves no phantom: its running row was never committed and its lock died with it.
func TestStatusRunning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, baseSQL)
	f.addViews(t,
		view{name: "slow", body: slowBody(200*time.Millisecond, "SELECT b.k FROM public.base b"), tables: []string{"public.base"}},
		view{name: "quick", body: "SELECT k FROM public.base", tables: []string{"public.base"}},
	)
	if _, err := f.client.Refresh(ctx, "slow"); err != nil {
		t.Fatal(err)
	}

	hold := func() (*pgx.Conn, pgx.Tx, uint32) {
		conn, err := pgx.Connect(ctx, f.db.URL(f.n.RuntimeRole, runtimePassword))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (&refresh.Client{DB: tx, Schema: "agent_mv"}).Refresh(ctx, "slow"); err != nil {
			t.Fatal(err)
		}
		return conn, tx, conn.PgConn().PID()
	}

	for _, end := range []string{"commit", "kill"} {
		t.Run(end, func(t *testing.T) {
			rowsBefore := len(f.history(t, "slow"))
			_, tx, pid := hold()
			st := statusOf(t, f)
			if s := st["slow"]; !s.Running || s.RunningPID != int32(pid) || s.RunningSince == nil {
				t.Fatalf("while held: slow running=%v pid=%d (want %d) since=%v", s.Running, s.RunningPID, pid, s.RunningSince)
			}
			if st["quick"].Running {
				t.Error("quick shows running")
			}
			if st["slow"].LastStatus != refresh.StatusSuccess {
				t.Errorf("while held, last status = %q: the uncommitted running row must not show", st["slow"].LastStatus)
			}
			// Another caller gets busy, not a second REFRESH.
			if r, err := f.client.Refresh(ctx, "slow"); err != nil || r.Status != refresh.StatusBusy {
				t.Errorf("second refresh while held = %+v, %v; want busy", r, err)
			}
			wantRows := rowsBefore
			switch end {
			case "commit":
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				wantRows++
			case "kill":
				if !scalar[bool](t, f.admin, "SELECT pg_terminate_backend($1, 5000)", int32(pid)) {
					t.Fatal("pg_terminate_backend failed")
				}
			}
			st = statusOf(t, f)
			if st["slow"].Running {
				t.Errorf("after %s: still running", end)
			}
			h := f.history(t, "slow")
			if len(h) != wantRows {
				t.Errorf("after %s: %d history rows, want %d", end, len(h), wantRows)
			}
			for _, r := range h {
				if r.Status == "running" {
					t.Errorf("phantom running row %+v", r)
				}
			}
			if r, err := f.client.Refresh(ctx, "slow"); err != nil || r.Status != refresh.StatusSuccess {
				t.Errorf("refresh after %s = %+v, %v; want success", end, r, err)
			}
		})
	}
}

// TestStatusFreshness: last-refresh fields, populated flag, max_staleness, staleness
// propagated from upstream views, and rows without count(*).
func TestStatusFreshness(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, baseSQL)
	base := []string{"public.base"}
	f.addViews(t,
		view{name: "fresh_up", body: "SELECT k, v FROM public.base", tables: base, maxStale: dur(time.Hour)},
		view{name: "old", body: "SELECT k, v FROM public.base", tables: base, maxStale: dur(50 * time.Millisecond)},
		view{name: "child", body: "SELECT k FROM agent_mv.old", views: []string{"old"}},
		view{name: "grandchild", body: "SELECT k FROM agent_mv.child JOIN agent_mv.fresh_up USING (k)", views: []string{"child", "fresh_up"}},
		view{name: "never", body: "SELECT k FROM public.base", tables: base, maxStale: dur(time.Hour)},
		view{name: "breaks", body: "SELECT k, 1000 / v AS r FROM public.base", tables: base},
	)
	// Granted like apply grants: the registry's row-level security shows the runtime role only
	// the views it may read.
	f.asOwner(t, "CREATE MATERIALIZED VIEW agent_mv.nodata AS SELECT k FROM public.base WITH NO DATA;\n"+
		"GRANT SELECT ON agent_mv.nodata TO "+pgx.Identifier{f.n.RuntimeRole}.Sanitize())
	f.addViews(t, view{name: "nodata", tables: base})

	for _, v := range []string{"old", "fresh_up", "child", "grandchild", "breaks"} {
		if _, err := f.client.Refresh(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	f.db.Exec(t, "DELETE FROM public.base WHERE k > 90; UPDATE public.base SET v = 0 WHERE k = 3")
	var fe *refresh.FailedError
	if _, err := f.client.Refresh(ctx, "breaks"); !errors.As(err, &fe) {
		t.Fatalf("breaks: %v, want FailedError", err)
	}
	time.Sleep(100 * time.Millisecond) // old is now older than its 50 ms max_staleness

	st := statusOf(t, f)
	if len(st) != 7 {
		t.Fatalf("status has %d views, want 7", len(st))
	}
	tests := []struct {
		view     string
		stale    bool
		reason   string
		pop      bool
		rows     int64 // -1: no estimate; -2: not checked (reltuples, whatever the planner knows)
		last     string
		upstream string
	}{
		{"fresh_up", false, "", true, 100, "success", ""},
		{"old", true, "last successful refresh is older than max_staleness 00:00:00.05", true, 100, "success", ""},
		{"child", true, "upstream view old is stale", true, 100, "success", "old"},
		{"grandchild", true, "upstream view child is stale", true, 100, "success", "child,fresh_up"},
		{"never", true, "never refreshed successfully (max_staleness 01:00:00)", true, -2, "", ""},
		{"breaks", false, "", true, 100, "failed", ""},
		{"nodata", false, "", false, -1, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.view, func(t *testing.T) {
			s := st[tt.view]
			if s.Stale != tt.stale || s.StaleReason != tt.reason {
				t.Errorf("stale = %v %q, want %v %q", s.Stale, s.StaleReason, tt.stale, tt.reason)
			}
			if s.Populated != tt.pop {
				t.Errorf("populated = %v, want %v", s.Populated, tt.pop)
			}
			switch {
			case tt.rows == -1 && s.RowsEstimate != nil:
				t.Errorf("rows estimate = %d for an unpopulated view", *s.RowsEstimate)
			case tt.rows >= 0 && (s.RowsEstimate == nil || *s.RowsEstimate != tt.rows):
				t.Errorf("rows estimate = %v, want %d (rows_after of the last success)", s.RowsEstimate, tt.rows)
			}
			if s.LastStatus != tt.last {
				t.Errorf("last status = %q, want %q", s.LastStatus, tt.last)
			}
			if got := strings.Join(s.Upstream, ","); got != tt.upstream {
				t.Errorf("upstream = %q, want %q", got, tt.upstream)
			}
			if s.Description != "test view "+tt.view || s.Running {
				t.Errorf("description %q running %v", s.Description, s.Running)
			}
		})
	}

	// Last-refresh fields of a success and of a failure after a success.
	fu := st["fresh_up"]
	if fu.LastMode != refresh.ModeBlocking || fu.LastModeReason != "no usable unique index" || fu.LastDurationMs == nil ||
		fu.LastStartedAt == nil || fu.LastFinishedAt == nil || fu.LastRowsAfter == nil || *fu.LastRowsAfter != 100 ||
		fu.LastSuccessAt == nil || !fu.LastSuccessAt.Equal(*fu.LastFinishedAt) || fu.MaxStaleness != "01:00:00" {
		t.Errorf("fresh_up last-refresh fields incomplete: %+v", fu)
	}
	br := st["breaks"]
	if br.LastSQLState != "22012" || !strings.Contains(br.LastError, "division by zero") || br.LastRowsAfter != nil ||
		br.LastSuccessAt == nil || !br.LastSuccessAt.Before(*br.LastFinishedAt) {
		t.Errorf("breaks: failure fields wrong: %+v", br)
	}
	// DataAsOf: a view's data is as old as its oldest upstream success.
	if gc, old := st["grandchild"], st["old"]; gc.DataAsOf == nil || !gc.DataAsOf.Equal(*old.LastSuccessAt) {
		t.Errorf("grandchild data_as_of = %v, want old's last success %v", gc.DataAsOf, old.LastSuccessAt)
	}
	if st["never"].DataAsOf != nil {
		t.Errorf("never: data_as_of = %v, want nil", st["never"].DataAsOf)
	}
}

// TestStatusHintsTheRealCause: "run `agent-mv apply` first" is said only when agentmv's
// objects are missing (a real database without them), never when the database is down (a
// real connect to a closed port) or refuses the login (a wrong password over TCP).
func TestStatusHintsTheRealCause(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name, dsn, want string
		apply           bool
	}{
		{"not applied", db.AdminURL, "agent_mv", true},
		{"database down", "postgres://u:pw@" + closed + "/db?connect_timeout=5", "connect", false},
		{"wrong password", db.URL(db.Prefix+"_nobody", "Wrong-pw_1"), "password authentication failed", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &refresh.Client{DB: db.PoolFor(t, tc.dsn), Schema: "agent_mv"}
			_, err := c.Status(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Status = %v, want an error about %q", err, tc.want)
			}
			if got := strings.Contains(err.Error(), "agent-mv apply"); got != tc.apply {
				t.Errorf("Status error says run apply = %v, want %v: %v", got, tc.apply, err)
			}
			_, err = c.LoadGraph(ctx)
			if err == nil || strings.Contains(err.Error(), "agent-mv apply") != tc.apply {
				t.Errorf("LoadGraph error = %v (apply hint wanted: %v)", err, tc.apply)
			}
		})
	}
}
