package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/refresh"
)

// claim refreshes view unless some session already did since `after`, in one transaction:
//
//  1. take the view's refresh lock (the one refresh_view takes; advisory locks are re-entrant
//     within a session, so refresh_view gets it again). Another session holding it means a
//     refresh is running: the answer is busy, as refresh_view's would be;
//  2. with the lock held, a fresh snapshot sees every refresh that finished before: if one
//     (success or failure) started after `after`, somebody else did the work since this
//     scheduler looked, and the answer is fresh with that refresh's finish;
//  3. otherwise call refresh_view in the same transaction and commit, so a failure's history
//     row persists.
//
// This is what keeps several schedulers from doubling the work: the check and the refresh are
// atomic under the lock, and the lock dies with a dead process's session.
func claim(ctx context.Context, db DB, schema, view string, after time.Time) (refresh.Result, error) {
	res := refresh.Result{View: view}
	// READ WRITE: the runtime role's sessions start read-only (default_transaction_read_only).
	tx, err := db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		res.Status = refresh.StatusFailed
		return res, fmt.Errorf("claim %s: %w", view, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	c, err := boundary.ClaimRefresh(ctx, tx, boundary.Names{Schema: schema}, view, after)
	if err != nil {
		res.Status = refresh.StatusFailed
		return res, err
	}
	switch {
	case !c.Locked:
		res.Status, res.Error = refresh.StatusBusy, fmt.Sprintf("a refresh of %s is already running", view)
		return res, nil
	case c.DoneAt != nil:
		res.Status, res.FinishedAt = refresh.StatusFresh, c.LastSuccessAt
		res.ModeReason = fmt.Sprintf("already refreshed by another session (a refresh started at %s)", c.DoneAt.UTC().Format(time.RFC3339Nano))
		return res, nil
	}
	// The call itself never sees ctx's end (pgx would send a protocol cancel request, which
	// signals the backend twice); boundary.CancelOnDone cancels it with one signal instead.
	stop := boundary.CancelOnDone(ctx, db, tx, c.PID)
	res, refreshErr := (&refresh.Client{DB: tx, Schema: schema}).Refresh(context.WithoutCancel(ctx), view)
	stop()
	// Commit even when ctx was canceled during the refresh (shutdown): the function caught the
	// cancellation and recorded the refresh as failed; committing keeps that record.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := tx.Commit(cctx); err != nil {
		res.Status = refresh.StatusFailed
		return res, fmt.Errorf("commit the refresh of %s: %w", view, err)
	}
	return res, refreshErr
}
