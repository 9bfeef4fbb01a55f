package boundary

import (
	"context"
	"fmt"
	"time"
)

// claimLockSQL takes a view's refresh lock without waiting (the lock refresh_view takes, so a
// refresh_view call later in the same transaction gets it again: advisory locks are re-entrant
// within a session) and makes the server check the client's connection every second for the
// rest of the transaction, so a REFRESH whose client died is aborted, and its lock released,
// within about a second instead of when the REFRESH ends. It also returns the backend's pid
// (the server's, also behind a pooler: the transaction pins one server session), so a caller
// can cancel the refresh with one signal (CancelBackend). $1 schema, $2 view.
var claimLockSQL = mustSQL("claim_lock", `
SELECT pg_catalog.set_config('client_connection_check_interval', '1000', true) IS NOT NULL
   AND pg_catalog.pg_try_advisory_xact_lock({{template "refresh_lock_key1" "$1::text"}}, {{template "refresh_lock_key2" "$2::text"}}),
       pg_catalog.pg_backend_pid()`)

// claimCheckSQL, run once the lock is held (a new statement: a new snapshot, so every refresh
// that finished before is visible), returns the start of the newest finished refresh of $1
// (success or failed) that started after $2 (NULL: any), and the finish of its newest success.
var claimCheckSQL = mustSQL("claim_check", `
SELECT (SELECT h.started_at FROM {{.History}} h
         WHERE h.view_name = $1 AND h.status IN ('success', 'failed')
           AND ($2::timestamptz IS NULL OR h.started_at > $2::timestamptz)
         ORDER BY h.started_at DESC, h.id DESC LIMIT 1),
       (SELECT h.finished_at FROM {{.History}} h
         WHERE h.view_name = $1 AND h.status = 'success'
         ORDER BY h.started_at DESC, h.id DESC LIMIT 1)`)

// Claim is the answer of ClaimRefresh.
type Claim struct {
	// Locked is false when another session holds the view's refresh lock (it is refreshing).
	Locked bool
	// DoneAt, when set, is the start of a refresh (success or failure) that began after the
	// caller's `after`: somebody else already did the work; do not refresh.
	DoneAt *time.Time
	// LastSuccessAt is the finish of the view's newest successful refresh.
	LastSuccessAt *time.Time
	// PID is the server backend of the claiming transaction: CancelBackend(PID) cancels the
	// refresh_view call that follows with one signal.
	PID int32
}

// ClaimRefresh claims the refresh of view inside tx: it takes the view's refresh lock and
// checks, under it, that no refresh of the view started after `after` (zero: ever). When the
// claim holds (Locked and DoneAt nil) the caller calls refresh_view in the same transaction
// and commits. Several schedulers use this to refresh a view once, not once each: the check
// and the refresh are atomic under the lock, and the lock dies with the session of a process
// that dies. The runtime role may call it.
func ClaimRefresh(ctx context.Context, tx Querier, n Names, view string, after time.Time) (Claim, error) {
	var c Claim
	if err := n.validSchema(); err != nil {
		return c, err
	}
	if err := tx.QueryRow(ctx, claimLockSQL.render(n), n.Schema, view).Scan(&c.Locked, &c.PID); err != nil {
		return c, fmt.Errorf("claim the refresh of %s: %w", view, err)
	}
	if !c.Locked {
		return c, nil
	}
	var since *time.Time
	if !after.IsZero() {
		since = &after
	}
	if err := tx.QueryRow(ctx, claimCheckSQL.render(n), view, since).Scan(&c.DoneAt, &c.LastSuccessAt); err != nil {
		return c, fmt.Errorf("claim the refresh of %s: %w", view, err)
	}
	return c, nil
}
