package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/refresh"
)

// holdLock takes a lock in an open transaction of its own (as the superuser) and returns the
// backend pid; the lock is released when the test ends or release is called.
func holdLock(t *testing.T, f *fixture, sql string) (pid uint32, release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		}
	}
	t.Cleanup(release)
	return conn.PgConn().PID(), release
}

// TestRefreshLockWaitIsBounded: a refresh that cannot get a lock gives up after the view's
// lock timeout (default boundary.DefaultRefreshLockTimeout) instead of waiting for ever, and is
// recorded as a failed refresh with SQLSTATE 55P03 and a message naming the relation, the
// lock modes and the blocking session. Afterwards nothing is left behind.
func TestRefreshLockWaitIsBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		setup, body string // extra base objects and the view's body (default: SELECT from public.base)
		lock        string // taken by another session
		indexes     []boundary.Index
		lockTimeout *time.Duration
		want        []string // in the error, besides the blocker's pid
	}{
		{
			name:        "the view's own refresh_lock_timeout",
			lock:        "LOCK TABLE public.base IN ACCESS EXCLUSIVE MODE",
			lockTimeout: dur(1500 * time.Millisecond),
			want:        []string{"lock timeout after 1500ms: table public.base"},
		},
		{
			name: "partition behind a plain view",
			setup: `CREATE TABLE public.events (k int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO public.events SELECT g, '2026-03-01' FROM generate_series(1, 10) g;
CREATE VIEW public.recent_events AS SELECT k FROM public.events;
GRANT SELECT ON public.events, public.events_2026, public.recent_events TO PUBLIC;`,
			body: "SELECT b.k, b.v FROM public.base b JOIN public.recent_events e USING (k)",
			lock: "LOCK TABLE public.events_2026 IN ACCESS EXCLUSIVE MODE",
			want: []string{"table public.events_2026", "AccessExclusiveLock", "needs AccessShareLock"},
		},
		{
			name: "base table locked by DDL",
			lock: "LOCK TABLE public.base IN ACCESS EXCLUSIVE MODE",
			want: []string{"table public.base", "AccessExclusiveLock", "needs AccessShareLock"},
		},
		{
			name: "view read by a long transaction, blocking refresh",
			lock: "SELECT count(*) FROM agent_mv.mv",
			want: []string{"materialized view agent_mv.mv", "AccessShareLock", "needs AccessExclusiveLock"},
		},
		{
			name:    "view written-locked, concurrent refresh",
			lock:    "CREATE INDEX ON agent_mv.mv (v)", // holds ShareLock until commit
			indexes: []boundary.Index{{Columns: []string{"k"}, Unique: true}},
			want:    []string{"materialized view agent_mv.mv", "ShareLock", "needs ExclusiveLock"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, baseSQL+tt.setup)
			body := tt.body
			if body == "" {
				body = "SELECT k, v FROM public.base"
			}
			f.addViews(t, view{name: "mv", body: body, tables: []string{"public.base"}, indexes: tt.indexes, lockTimeout: tt.lockTimeout})
			if _, err := f.client.Refresh(context.Background(), "mv"); err != nil {
				t.Fatal(err)
			}
			pid, release := holdLock(t, f, tt.lock)

			// Generous: a bounded wait ends long before this; an unbounded one runs into it.
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			res, err := f.client.Refresh(ctx, "mv")
			var fe *refresh.FailedError
			if !errors.As(err, &fe) || res.SQLState != "55P03" {
				t.Fatalf("Refresh with a lock held elsewhere = %+v, %v; want a failed refresh with SQLSTATE 55P03", res, err)
			}
			for _, w := range append(tt.want, fmt.Sprintf("pid %d", pid), "lock timeout after") {
				if !strings.Contains(res.Error, w) {
					t.Errorf("error %q does not name %q", res.Error, w)
				}
			}
			t.Logf("recorded error: %s", res.Error)
			h := f.history(t, "mv")
			if last := h[len(h)-1]; last.Status != "failed" || last.SQLState != "55P03" || last.Error != res.Error {
				t.Errorf("last history row = %+v, want failed 55P03 with the same message", last)
			}
			release()
			if res, err := f.client.Refresh(context.Background(), "mv"); err != nil || res.Status != refresh.StatusSuccess {
				t.Errorf("refresh after the lock is gone = %+v, %v", res, err)
			}
		})
	}
}

// TestRefreshWatchShowsTheLockWait: while a refresh waits for a lock, Client.Watch (and
// RefreshAll's progress events) report which relation, which mode and which session it waits
// for; when the lock goes away the refresh completes.
func TestRefreshWatchShowsTheLockWait(t *testing.T) {
	t.Parallel()
	for _, all := range []bool{false, true} {
		t.Run(map[bool]string{false: "Refresh", true: "RefreshAll"}[all], func(t *testing.T) {
			f := newFixture(t, baseSQL)
			f.addViews(t, view{name: "mv", body: "SELECT k, v FROM public.base", tables: []string{"public.base"},
				lockTimeout: dur(10 * time.Minute)})
			pid, release := holdLock(t, f, "LOCK TABLE public.base IN ACCESS EXCLUSIVE MODE")
			waits := make(chan Wait, 100)
			done := make(chan error, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if all {
				go func() {
					_, err := f.client.RefreshAll(ctx, refresh.AllOptions{Progress: func(e refresh.Event) {
						if e.Wait != nil {
							waits <- *e.Wait
						}
					}})
					done <- err
				}()
			} else {
				c := *f.client
				c.Watch = func(w refresh.Wait) { waits <- w }
				go func() { _, err := c.Refresh(ctx, "mv"); done <- err }()
			}
			wantBlocker := fmt.Sprintf("pid %d (role postgres) holds AccessExclusiveLock", pid)
			for seen := false; !seen; {
				select {
				case w := <-waits:
					if w.Lock != nil && w.Lock.Relation == "public.base" && w.Lock.Mode == "AccessShareLock" &&
						len(w.Lock.Blockers) == 1 && w.Lock.Blockers[0] == wantBlocker {
						seen = true
						if s := w.String(); !strings.HasPrefix(s, "mv: waiting ") || !strings.Contains(s, "for AccessShareLock on public.base ("+wantBlocker+")") {
							t.Errorf("Wait.String() = %q", s)
						}
					}
				case err := <-done:
					t.Fatalf("the refresh ended while the lock was held: %v", err)
				case <-ctx.Done():
					t.Fatal("no progress report named the lock wait")
				}
			}
			release()
			if err := <-done; err != nil {
				t.Fatalf("refresh after the lock went away: %v", err)
			}
		})
	}
}

// Wait is refresh.Wait, for brevity.
type Wait = refresh.Wait
