package boundary

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// agentmv's advisory locks. Each key is written once, here.
//
//   - The apply lock, one per schema: hashtext('agentmv-apply:' || <S>), transaction scoped.
//     Apply and drop hold it for their whole transaction; a second one waits (lock_timeout).
//   - The bootstrap lock: hashtextextended('agentmv:bootstrap:' || <S>, 0), transaction scoped,
//     taken by Bootstrap.
//   - The refresh lock, one per view: (hashtext('agentmv:' || <S>), hashtext(view)), the
//     two-int4 form, taken with pg_try_advisory_xact_lock by refresh_view (single flight).
const lockFragments = `{{define "apply_lock_key"}}pg_catalog.hashtext('agentmv-apply:' || {{.}}){{end}}` +
	`{{define "bootstrap_lock_key"}}pg_catalog.hashtextextended('agentmv:bootstrap:' || {{.}}, 0){{end}}` +
	`{{define "refresh_lock_key1"}}pg_catalog.hashtext('agentmv:' || {{.}}){{end}}` +
	`{{define "refresh_lock_key2"}}pg_catalog.hashtext({{.}}){{end}}`

var (
	applyLockSQL     = mustSQL("apply_lock", `SELECT pg_catalog.pg_advisory_xact_lock({{template "apply_lock_key" "$1::text"}})`)
	bootstrapLockSQL = mustSQL("bootstrap_lock", `SELECT pg_catalog.pg_advisory_xact_lock({{template "bootstrap_lock_key" "$1::text"}})`)
	refreshLockKey   = mustSQL("refresh_lock_key", `SELECT {{template "refresh_lock_key1" "$1::text"}}, {{template "refresh_lock_key2" "$2::text"}}`)
)

// ErrApplyRunning is returned by TakeApplyLock when another apply (or drop) on the schema holds
// the lock longer than the transaction's lock_timeout.
var ErrApplyRunning = errors.New("another apply is running on this schema; wait for it to finish and retry")

// TakeApplyLock takes the schema's apply lock for the rest of tx (apply and drop hold it, so
// two of them never change one schema at once). It waits up to the transaction's lock_timeout,
// then returns ErrApplyRunning.
func TakeApplyLock(ctx context.Context, tx pgx.Tx, n Names) error {
	if err := n.validSchema(); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, applyLockSQL.render(n), n.Schema); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available: lock_timeout
			return ErrApplyRunning
		}
		return fmt.Errorf("take the apply lock of %s: %w", n.Schema, err)
	}
	return nil
}

// RefreshLockKey asks the server for the advisory-lock keys refresh_view holds while it
// refreshes view in schema. In pg_locks such a lock shows as locktype = 'advisory',
// classid = key1::oid, objid = key2::oid, objsubid = 2 (the two-int4 form; negative keys
// appear as their unsigned oid). hashtext is Postgres' own hash, so it is computed there
// rather than re-implemented in Go.
func RefreshLockKey(ctx context.Context, q Reader, schema, view string) (key1, key2 int32, err error) {
	err = q.QueryRow(ctx, refreshLockKey.render(Names{Schema: schema}), schema, view).Scan(&key1, &key2)
	if err != nil {
		err = fmt.Errorf("compute refresh lock key: %w", err)
	}
	return key1, key2, err
}
