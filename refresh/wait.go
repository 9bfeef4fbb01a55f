package refresh

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Wait is what a refresh that has run for more than a second is doing, for progress reports
// (Client.Watch, and Event.Wait in RefreshAll).
type Wait struct {
	View    string        `json:"view"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Lock is set while the refresh waits for a lock; nil while it computes.
	Lock *LockWait `json:"lock,omitempty"`
}

// LockWait is the lock a refresh is waiting for, and who holds it.
type LockWait struct {
	Relation string `json:"relation"` // schema.name of the locked relation
	Mode     string `json:"mode"`     // the mode the refresh asked for
	// Blockers describe the sessions it waits for, e.g. "pid 4242 (role app) holds
	// AccessExclusiveLock".
	Blockers []string `json:"blockers,omitempty"`
}

// String renders w for a progress line: "daily_revenue: waiting 3s for AccessShareLock on
// public.orders (pid 4242 (role app) holds AccessExclusiveLock)" or "daily_revenue:
// refreshing for 3s".
func (w Wait) String() string {
	secs := w.Elapsed.Round(time.Second)
	if w.Lock == nil {
		return fmt.Sprintf("%s: refreshing for %s", w.View, secs)
	}
	s := fmt.Sprintf("%s: waiting %s for %s on %s", w.View, secs, w.Lock.Mode, w.Lock.Relation)
	if len(w.Lock.Blockers) > 0 {
		s += " (" + strings.Join(w.Lock.Blockers, "; ") + ")"
	}
	return s
}

// watchInterval is how often a watched refresh reports: first after this long, then again.
const watchInterval = time.Second

// lockWaitSQL finds the relation lock backend $1 is waiting for and the sessions it waits for
// (pg_blocking_pids: holders of conflicting locks and conflicting requests queued ahead).
// pg_locks, pg_class and pg_blocking_pids are readable by every role, so the runtime role
// can ask about its own refresh.
const lockWaitSQL = `
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), l.mode,
       ARRAY(SELECT pg_catalog.format('pid %s%s %s %s', b.pid, coalesce(' (role ' || a.usename || ')', ''),
                                      CASE WHEN b.granted THEN 'holds' ELSE 'waits for' END, b.mode)
               FROM pg_catalog.pg_locks b LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = b.pid
              WHERE b.pid = ANY (pg_catalog.pg_blocking_pids(l.pid)) AND b.locktype = 'relation'
                AND b.relation = l.relation AND b.database = l.database
              ORDER BY b.pid, b.mode)
  FROM pg_catalog.pg_locks l
  JOIN pg_catalog.pg_class c ON c.oid = l.relation
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE l.pid = $1 AND NOT l.granted AND l.locktype = 'relation'
 LIMIT 1`

// lockWait asks what backend pid waits for; nil when it waits for no relation lock.
func lockWait(ctx context.Context, q Querier, pid uint32) (*LockWait, error) {
	rows, err := q.Query(ctx, lockWaitSQL, int64(pid))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var w LockWait
	if err := rows.Scan(&w.Relation, &w.Mode, &w.Blockers); err != nil {
		return nil, err
	}
	return &w, rows.Err()
}

// refreshWatched runs the refresh on a connection of its own and, from another connection of
// pool, reports every watchInterval what it waits for. Watch is never called after it returns.
func (c *Client) refreshWatched(ctx context.Context, pool *pgxpool.Pool, name string) (Result, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		err = c.wrap(name, err)
		return Result{View: name, Status: StatusFailed, Error: err.Error()}, err
	}
	defer conn.Release()
	pid := conn.Conn().PgConn().PID()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.watch(ctx, pool, name, pid, stop) })
	res, err := c.refreshOn(ctx, conn, pool, name) // a cancel comes from another session of pool
	close(stop)
	wg.Wait()
	return res, err
}

// watch reports on backend pid's refresh of view until stop is closed. Progress is best
// effort: a probe that fails (or cannot get a connection quickly) reports elapsed time only.
func (c *Client) watch(ctx context.Context, pool *pgxpool.Pool, view string, pid uint32, stop <-chan struct{}) {
	start := time.Now()
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w := Wait{View: view, Elapsed: time.Since(start)}
		probe, cancel := context.WithTimeout(ctx, watchInterval)
		w.Lock, _ = lockWait(probe, pool, pid)
		cancel()
		select {
		case <-stop:
			return
		default:
			c.Watch(w)
		}
	}
}
