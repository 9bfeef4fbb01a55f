package agentmv_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentmv/agentmv"
)

// TestPoolMaxConnsIsABound: Options.PoolMaxConns bounds both pools, also below the defaults.
// Eight concurrent calls on the runtime pool all wait on an advisory lock the admin holds; the
// server must see exactly PoolMaxConns backends of the runtime role while the other calls wait
// for a pooled connection.
func TestPoolMaxConnsIsABound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pr := demoProject(t)
	pr.apply()
	const bound, calls = 2, 8
	p, err := agentmv.Open(ctx, agentmv.Options{
		ConfigPath:   filepath.Join(pr.dir, "materialize.yaml"),
		DotenvPath:   "-",
		Overrides:    pr.settings,
		Environ:      func(string) (string, bool) { return "", false },
		PoolMaxConns: bound,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	admin, err := p.AdminPool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := admin.Stat().MaxConns(); got != bound {
		t.Errorf("admin pool MaxConns = %d, want %d", got, bound)
	}
	rt, err := p.RuntimePool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.Stat().MaxConns(); got != bound {
		t.Errorf("runtime pool MaxConns = %d, want %d", got, bound)
	}

	// The admin holds the lock on a connection of its own (not the project's pool).
	lock, err := pr.admin.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	const key = 424242
	if _, err := lock.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		t.Fatal(err)
	}
	var started atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			started.Add(1)
			_, err := rt.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, key)
			errs <- err
		})
	}
	backends := func() (total, waiting int) {
		err := pr.admin.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock')
  FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'`, pr.settings.RuntimeRole).Scan(&total, &waiting)
		if err != nil {
			t.Fatal(err)
		}
		return total, waiting
	}
	// Wait until every call started and the pool handed out all the connections it may.
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := rt.Stat()
		_, waiting := backends()
		if started.Load() == calls && s.AcquiredConns() == s.MaxConns() && waiting == int(s.MaxConns()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls did not all start and block: started %d, acquired %d of %d, %d backends waiting on the lock",
				started.Load(), s.AcquiredConns(), s.MaxConns(), waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
	total, waiting := backends()
	if total != bound || waiting != bound {
		t.Errorf("with %d calls in flight the server sees %d runtime backends (%d waiting on the lock), want %d", calls, total, waiting, bound)
	}
	if _, err := lock.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("call: %v", err)
		}
	}
	if got := rt.Stat().NewConnsCount(); got > bound {
		t.Errorf("the runtime pool opened %d connections, bound %d", got, bound)
	}
}
