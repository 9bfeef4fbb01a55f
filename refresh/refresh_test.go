package refresh_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/refresh"
)

const baseSQL = `CREATE TABLE public.base (k int NOT NULL, v int NOT NULL);
INSERT INTO public.base SELECT g, g FROM generate_series(1, 100) g;`

// TestRefreshFailureIsDurable: a REFRESH that raises leaves the previous contents, a "failed"
// history row (error + SQLSTATE) that later connections see, and a *FailedError.
func TestRefreshFailureIsDurable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		indexes   []boundary.Index
		breakData string // run by the admin after the first successful refresh
		mode      string
		sqlstate  string
		errText   string
	}{
		{
			name:      "division by zero, blocking",
			body:      "SELECT k, 1000 / v AS r FROM public.base",
			breakData: "UPDATE public.base SET v = 0 WHERE k = 7",
			mode:      refresh.ModeBlocking, sqlstate: "22012", errText: "division by zero",
		},
		{
			name:      "duplicate rows under CONCURRENTLY",
			body:      "SELECT k, v FROM public.base",
			indexes:   []boundary.Index{{Columns: []string{"k"}, Unique: true}},
			breakData: "INSERT INTO public.base VALUES (7, 7)",
			mode:      refresh.ModeConcurrent, sqlstate: "21000", errText: "duplicate rows",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, baseSQL)
			f.addViews(t, view{name: "mv", body: tt.body, tables: []string{"public.base"}, indexes: tt.indexes})
			if _, err := f.client.Refresh(ctx, "mv"); err != nil {
				t.Fatalf("first refresh: %v", err)
			}
			const sumSQL = "SELECT count(*)::bigint * 1000 + sum(k)::bigint FROM agent_mv.mv"
			before := scalar[int64](t, f.runtime, sumSQL)
			f.db.Exec(t, tt.breakData)

			res, err := f.client.Refresh(ctx, "mv")
			var fe *refresh.FailedError
			if !errors.As(err, &fe) {
				t.Fatalf("Refresh error = %v (%T), want *FailedError", err, err)
			}
			if fe.SQLState() != tt.sqlstate || res.SQLState != tt.sqlstate || res.Status != refresh.StatusFailed {
				t.Fatalf("result %+v, want failed with SQLSTATE %s", res, tt.sqlstate)
			}
			if !strings.Contains(err.Error(), tt.errText) || !strings.Contains(err.Error(), "keeps its previous contents") {
				t.Errorf("error text %q lacks %q or the hint", err, tt.errText)
			}
			if res.Mode != tt.mode {
				t.Errorf("mode = %q, want %q", res.Mode, tt.mode)
			}
			if after := scalar[int64](t, f.runtime, sumSQL); after != before {
				t.Errorf("view contents changed by the failed refresh: %d -> %d", before, after)
			}
			// A brand-new connection (another session) sees the committed failed row.
			other := f.runtimePool(t, 1)
			var status, state, msg string
			if err := other.QueryRow(ctx, `SELECT status, sqlstate, error FROM agent_mv.refresh_history
			  WHERE view_name = 'mv' ORDER BY id DESC LIMIT 1`).Scan(&status, &state, &msg); err != nil {
				t.Fatal(err)
			}
			if status != "failed" || state != tt.sqlstate || !strings.Contains(msg, tt.errText) {
				t.Errorf("last history row = %s %s %q, want failed %s", status, state, msg, tt.sqlstate)
			}
			h := f.history(t, "mv")
			if len(h) != 2 || h[0].Status != "success" || h[1].Status != "failed" || h[1].FinishedAt == nil {
				t.Errorf("history = %+v, want success then failed", h)
			}
			if h[1].CalledBy != f.n.RuntimeRole {
				t.Errorf("called_by = %q, want the runtime role %q", h[1].CalledBy, f.n.RuntimeRole)
			}
		})
	}
}

// TestRefreshFailureInCallersTransaction: the failed row is written by the function, not lost
// to a RAISE, so it survives when the caller commits its own transaction.
func TestRefreshFailureInCallersTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, baseSQL)
	f.addViews(t, view{name: "mv", body: "SELECT k, 1000 / v AS r FROM public.base", tables: []string{"public.base"}})
	f.db.Exec(t, "UPDATE public.base SET v = 0 WHERE k = 1")
	// The runtime role's sessions start read-only: a caller's plain BEGIN cannot refresh, and
	// the error says what to do.
	ro, err := f.runtime.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&refresh.Client{DB: ro, Schema: "agent_mv"}).Refresh(ctx, "mv")
	ro.Rollback(ctx)
	if err == nil || !strings.Contains(err.Error(), "refresh in a transaction begun READ WRITE") {
		t.Fatalf("Refresh in a read-only transaction = %v, want the READ WRITE hint", err)
	}
	tx, err := f.runtime.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	_, err = (&refresh.Client{DB: tx, Schema: "agent_mv"}).Refresh(ctx, "mv")
	var fe *refresh.FailedError
	if !errors.As(err, &fe) || fe.Result.SQLState != "22012" {
		t.Fatalf("Refresh in tx = %v, want FailedError 22012", err)
	}
	// The transaction is still usable: the function caught the error.
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit after a failed refresh: %v", err)
	}
	if h := f.history(t, "mv"); len(h) != 1 || h[0].Status != "failed" || h[0].SQLState != "22012" {
		t.Fatalf("history = %+v, want one failed row", h)
	}
}

// TestRefreshModes: CONCURRENTLY only when Postgres would accept it, with the reason recorded.
func TestRefreshModes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, baseSQL)
	f.addViews(t,
		view{name: "proper", body: "SELECT k, v FROM public.base", tables: []string{"public.base"},
			indexes: []boundary.Index{{Columns: []string{"k"}, Unique: true}}},
		view{name: "partial", body: "SELECT k, v FROM public.base", tables: []string{"public.base"}},
		view{name: "expr", body: "SELECT k, v FROM public.base", tables: []string{"public.base"}},
	)
	f.asOwner(t, `CREATE UNIQUE INDEX partial_k_idx ON agent_mv.partial (k) WHERE k > 0;
CREATE UNIQUE INDEX expr_k_idx ON agent_mv.expr ((k + 0));
CREATE MATERIALIZED VIEW agent_mv.nodata AS SELECT k, v FROM public.base WITH NO DATA;
CREATE UNIQUE INDEX nodata_k_idx ON agent_mv.nodata (k);
GRANT SELECT ON agent_mv.nodata TO `+f.n.RuntimeRole)
	f.addViews(t, view{name: "nodata", tables: []string{"public.base"}}) // register the hand-made view

	tests := []struct {
		view, mode, reason string
	}{
		{"proper", refresh.ModeConcurrent, "unique index proper_k_idx"},
		{"partial", refresh.ModeBlocking, "no usable unique index (partial index partial_k_idx has a WHERE clause)"},
		{"expr", refresh.ModeBlocking, "no usable unique index (expression index expr_k_idx indexes expressions)"},
		{"nodata", refresh.ModeBlocking, "not populated yet"},
		{"nodata", refresh.ModeConcurrent, "unique index nodata_k_idx"}, // second refresh: populated now
	}
	for _, tt := range tests {
		t.Run(tt.view+"/"+tt.mode, func(t *testing.T) {
			res, err := f.client.Refresh(ctx, tt.view)
			if err != nil {
				t.Fatalf("Refresh(%s): %v", tt.view, err)
			}
			if res.Status != refresh.StatusSuccess || res.Mode != tt.mode || res.ModeReason != tt.reason {
				t.Fatalf("Refresh(%s) = status %q mode %q reason %q, want success %q %q", tt.view, res.Status, res.Mode, res.ModeReason, tt.mode, tt.reason)
			}
			if res.RowsAfter == nil || *res.RowsAfter != 100 {
				t.Errorf("rows_after = %v, want 100", res.RowsAfter)
			}
			h := f.history(t, tt.view)
			last := h[len(h)-1]
			if last.Mode != tt.mode || last.ModeReason != tt.reason || last.Status != "success" {
				t.Errorf("history row %+v does not record mode %q reason %q", last, tt.mode, tt.reason)
			}
		})
	}
}

// TestRefreshRejections: names outside the allowlist stay errors and wrap ErrUnknownView.
func TestRefreshRejections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, baseSQL)
	f.db.Exec(t, "CREATE MATERIALIZED VIEW agent_mv.unmanaged AS SELECT 1 AS x")
	tests := []struct{ name, want string }{
		{"nope", "unknown materialized view: nope"},
		{"unmanaged", "unknown materialized view: unmanaged"},
		{"base", "unknown materialized view: base"},
		{strings.Repeat("x", 200), "view name too long"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			res, err := f.client.Refresh(ctx, tt.name)
			if !errors.Is(err, refresh.ErrUnknownView) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Refresh(%.20s) = %v, want ErrUnknownView with %q", tt.name, err, tt.want)
			}
			if n := strings.Count(err.Error(), "unknown materialized view"); n > 1 {
				t.Errorf("the error says it %d times: %v", n, err)
			}
			if res.Status != refresh.StatusFailed {
				t.Errorf("status = %q, want failed", res.Status)
			}
		})
	}
	if n := scalar[int64](t, f.admin, "SELECT count(*) FROM agent_mv.refresh_history"); n != 0 {
		t.Errorf("rejections wrote %d history rows", n)
	}
}

// TestRefreshSingleFlight: 50 callers on 50 connections hammer one slow view until there have
// been several successes and at least as many busy answers as callers (a count, not a time:
// on a loaded machine a refresh takes longer, the hammering just lasts longer). Exactly one
// REFRESH runs at a time (no two success intervals overlap), the others get "busy" at once,
// nobody deadlocks or errors, and every call gets a clear answer.
func TestRefreshSingleFlight(t *testing.T) {
	t.Parallel()
	const callers = 50
	const wantSuccesses = 4
	ctx, cancel := context.WithTimeout(context.Background(), 2*testutil.Wait)
	defer cancel()
	f := newFixture(t, baseSQL)
	f.addViews(t, view{name: "slow", body: slowBody(300*time.Millisecond, "SELECT b.k, b.v FROM public.base b"),
		tables: []string{"public.base"}, indexes: []boundary.Index{{Columns: []string{"k"}, Unique: true}}})
	pool := f.runtimePool(t, callers)
	client := &refresh.Client{DB: pool, Schema: "agent_mv"}
	// Open all connections first so the calls really start together.
	warm := make([]*pgxpool.Conn, 0, callers)
	for range callers {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		warm = append(warm, c)
	}
	for _, c := range warm {
		c.Release()
	}

	var (
		mu       sync.Mutex
		statuses = map[string]int{}
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	enough := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return statuses[refresh.StatusSuccess] >= wantSuccesses && statuses[refresh.StatusBusy] >= callers
	}
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := 0; !enough() && ctx.Err() == nil; j++ {
				res, err := client.Refresh(ctx, "slow")
				mu.Lock()
				if err != nil {
					statuses["error: "+err.Error()]++
				} else {
					statuses[res.Status]++
				}
				mu.Unlock()
				if res.Status == refresh.StatusBusy && res.Error == "" {
					t.Errorf("caller %d/%d: busy without a message", i, j)
				}
				time.Sleep(time.Duration(10+i%7*15) * time.Millisecond)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("callers did not see %d successes and %d busy answers within %s (deadlock, or no single flight?): %v",
			wantSuccesses, callers, 2*testutil.Wait, statuses)
	}
	t.Logf("answers: %v", statuses)
	total := 0
	for _, n := range statuses {
		total += n
	}
	if statuses[refresh.StatusSuccess]+statuses[refresh.StatusBusy] != total {
		t.Fatalf("answers %v: want only success and busy", statuses)
	}
	if statuses[refresh.StatusSuccess] < wantSuccesses || statuses[refresh.StatusBusy] < callers {
		t.Fatalf("answers %v: want several successes and many busy", statuses)
	}
	h := f.history(t, "slow")
	if len(h) != statuses[refresh.StatusSuccess] {
		t.Fatalf("%d history rows for %d successes", len(h), statuses[refresh.StatusSuccess])
	}
	for i, r := range h {
		if r.Status != "success" || r.FinishedAt == nil {
			t.Fatalf("history row %d = %+v, want a finished success", i, r)
		}
		if r.FinishedAt.Sub(r.StartedAt) < 250*time.Millisecond {
			t.Errorf("refresh %d took %s: the view is not slow enough for the test to mean anything", i, r.FinishedAt.Sub(r.StartedAt))
		}
		if i > 0 && r.StartedAt.Before(*h[i-1].FinishedAt) {
			t.Errorf("refreshes overlap: #%d [%s, %s] and #%d [%s, %s]", i-1, h[i-1].StartedAt.Format(time.StampMicro),
				h[i-1].FinishedAt.Format(time.StampMicro), i, r.StartedAt.Format(time.StampMicro), r.FinishedAt.Format(time.StampMicro))
		}
	}
}

// TestRefreshCanceledIsRecorded: a refresh whose caller's context ends during the REFRESH (an
// MCP client that gave up, a Ctrl-C) is canceled and recorded as failed with 57014; the record
// is durable (the call commits although its context ended) and the view keeps its contents.
// The cancel is one signal (boundary.CancelOnDone): a protocol cancel request signals the
// backend twice, and a second signal after refresh_view caught the first rolled the record back
// under load. Both paths: the refresh on the pool, and the watched refresh (with progress) on a
// connection taken from it, whose cancel comes from another session of the pool.
func TestRefreshCanceledIsRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, baseSQL+"\nCREATE TABLE public.flag (slow bool NOT NULL); INSERT INTO public.flag VALUES (false);")
	f.addViews(t, view{name: "mv", tables: []string{"public.base", "public.flag"},
		body: "WITH pause AS MATERIALIZED (SELECT pg_catalog.pg_sleep(CASE WHEN f.slow THEN 60 ELSE 0 END) FROM public.flag f)\nSELECT b.k FROM public.base b, pause"})
	if _, err := f.client.Refresh(ctx, "mv"); err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	f.db.Exec(t, "UPDATE public.flag SET slow = true")

	// Odd rounds watch the refresh (progress, as `agent-mv refresh` shows it): the refresh runs
	// on a connection taken from the pool, and the cancel comes from another of its sessions.
	watching := &refresh.Client{DB: f.runtime, Schema: f.client.Schema, Watch: func(refresh.Wait) {}}
	for round := range 4 {
		client := f.client
		if round%2 == 1 {
			client = watching
		}
		callCtx, cancel := context.WithCancel(ctx)
		type outcome struct {
			res refresh.Result
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := client.Refresh(callCtx, "mv")
			done <- outcome{res, err}
		}()
		testutil.WaitFor(t, 60*time.Second, "the refresh to hold the view's lock", func() (bool, error) {
			var n int
			err := f.admin.QueryRow(ctx, `SELECT count(*) FROM pg_locks l
			  WHERE l.relation = 'agent_mv.mv'::regclass AND l.granted AND l.mode = 'AccessExclusiveLock'`).Scan(&n)
			return n > 0, err
		})
		cancel()
		var o outcome
		select {
		case o = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("round %d: Refresh did not return within 60s of its context's end", round)
		}
		var fe *refresh.FailedError
		if !errors.As(o.err, &fe) || fe.SQLState() != "57014" || o.res.Status != refresh.StatusFailed {
			t.Fatalf("round %d: Refresh = %+v, %v; want a *FailedError with SQLSTATE 57014", round, o.res, o.err)
		}
		h := f.history(t, "mv")
		if last := h[len(h)-1]; len(h) != round+2 || last.Status != "failed" || last.FinishedAt == nil {
			t.Fatalf("round %d: history = %+v, want the canceled refresh recorded as failed", round, h)
		}
		if n := scalar[int64](t, f.runtime, "SELECT count(*) FROM agent_mv.mv"); n != 100 {
			t.Errorf("round %d: mv has %d rows after the canceled refresh, want its old 100", round, n)
		}
	}
}
