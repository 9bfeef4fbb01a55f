package agentmv

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/refresh"
)

// DropPlan lists what Drop removes: the view and the managed views that depend on it,
// dependents first.
type DropPlan struct {
	View  string   `json:"view"`
	Order []string `json:"order"`
	// CronJobs lists the pg_cron jobs of the dropped views that were removed with them.
	CronJobs []string `json:"cron_jobs,omitempty"`
}

// ErrUnknownView is returned by Drop for a name that is not a managed view, and wrapped by
// Refresh and RefreshAll for one: it is refresh.ErrUnknownView, so one errors.Is test covers
// every entry point.
var ErrUnknownView = refresh.ErrUnknownView

// PlanDrop says what Drop(name) would remove, without changing anything.
func (p *Project) PlanDrop(ctx context.Context, name string) (*DropPlan, error) {
	pool, err := p.AdminPool(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	return p.planDrop(ctx, tx, name)
}

func (p *Project) planDrop(ctx context.Context, tx pgx.Tx, name string) (*DropPlan, error) {
	n := p.Names()
	rec, err := p.readRecorded(ctx, tx)
	if err != nil {
		return nil, err
	}
	if _, ok := rec.registry[name]; !ok {
		var known []string
		for k := range rec.registry {
			known = append(known, k)
		}
		slices.Sort(known)
		return nil, fmt.Errorf("drop %s: %w: it is not a managed view of %s (managed: %s)", name, ErrUnknownView, n.Schema, strings.Join(known, ", "))
	}
	// The view and its managed dependents; refuse if anything unmanaged depends on them.
	closure, err := p.dropClosure(ctx, tx, []string{name})
	if err != nil {
		return nil, err
	}
	if len(closure.blockers) > 0 {
		return nil, &BlockedError{Blockers: closure.blockers}
	}
	return &DropPlan{View: name, Order: closure.order}, nil
}

// Drop removes a managed view and the managed views that depend on it, in one transaction,
// then removes them from materialize.yaml (only after the database change committed). The SQL
// files are left in place. Refresh history is kept.
func (p *Project) Drop(ctx context.Context, name string) (*DropPlan, error) {
	pool, err := p.AdminPool(ctx)
	if err != nil {
		return nil, err
	}
	n := p.Names()
	var plan *DropPlan
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_catalog.set_config('lock_timeout', '10s', true)"); err != nil {
			return err
		}
		if err := boundary.TakeApplyLock(ctx, tx, n); err != nil {
			return err
		}
		var err error
		if plan, err = p.planDrop(ctx, tx, name); err != nil {
			return err
		}
		rec, err := p.readRecorded(ctx, tx)
		if err != nil {
			return err
		}
		for _, v := range plan.Order {
			if err := boundary.DropManagedView(ctx, tx, n, v, rec.registry[v].Strategy()); err != nil {
				return fmt.Errorf("drop %s: %w", v, err)
			}
			if err := boundary.DeleteView(ctx, tx, n, v); err != nil {
				return fmt.Errorf("unregister %s: %w", v, err)
			}
		}
		plan.CronJobs, err = boundary.UnscheduleCronJobs(ctx, tx, n, plan.Order)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, v := range plan.Order {
		if _, ok := p.cfg.View(v); !ok {
			continue
		}
		if err := p.cfg.RemoveView(v); err != nil {
			return plan, fmt.Errorf("the views are dropped from the database, but removing %s from %s failed: %w; remove it by hand", v, p.cfg.Path, err)
		}
	}
	return plan, nil
}
