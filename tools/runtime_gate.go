package tools

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// primaryGate runs RuntimeConfig.VerifyPrimary before calls until it has succeeded once.
type primaryGate struct {
	pool   *pgxpool.Pool
	verify func(context.Context, *pgxpool.Pool) error

	mu sync.Mutex
	ok bool
}

// check returns nil once the primary is verified (or when there is nothing to verify).
// Concurrent first calls wait for one verification.
func (g *primaryGate) check(ctx context.Context) error {
	if g.verify == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ok {
		return nil
	}
	if err := g.verify(ctx, g.pool); err != nil {
		return err
	}
	g.ok = true
	return nil
}

// gated runs h only after the gate passes.
func gated[In, Out any](g *primaryGate, h func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		if err := g.check(ctx); err != nil {
			var zero Out
			return zero, err
		}
		return h(ctx, in)
	}
}
