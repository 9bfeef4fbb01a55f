package refresh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/boundary"
)

// Statuses a refresh can end with. Only success and failed are written to refresh_history;
// busy and fresh are answers of the function that did not refresh anything.
const (
	StatusSuccess = boundary.StatusSuccess
	StatusFailed  = boundary.StatusFailed
	StatusBusy    = boundary.StatusBusy  // another session is refreshing this view right now
	StatusFresh   = boundary.StatusFresh // refreshed within the view's min_refresh_interval; nothing done
	StatusSkipped = "skipped"            // refresh-all only: an upstream view failed in this run
)

// Modes a refresh runs in (Result.Mode).
const (
	ModeConcurrent = boundary.ModeConcurrent
	ModeBlocking   = boundary.ModeBlocking
)

// Querier is what the client needs from a pool or connection (*pgxpool.Pool, *pgx.Conn, pgx.Tx).
// Use a pool or a connection for refreshes: the client then runs each refresh in a READ WRITE
// transaction of its own without a statement timeout (the runtime role's sessions start
// read-only with a 30 s statement_timeout by default; see boundary.RoleLimits), and a failed
// refresh's history row is durable once it commits. Inside a caller's transaction (pgx.Tx) the
// caller chooses: it must be READ WRITE (pgx.TxOptions{AccessMode: pgx.ReadWrite}).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Client refreshes the managed views of one schema through `<schema>.refresh_view(text)` and
// reads their status. It needs only the runtime role: the function is SECURITY DEFINER.
//
// # Busy instead of waiting
//
// The function allows one refresh per view at a time (a transaction-scoped advisory lock). A
// second caller does not queue behind the first: it gets StatusBusy at once. Waiting (bounded by
// lock_timeout) would hold a connection and an open transaction for as long as a REFRESH that
// may take minutes, and when the lock finally came it would recompute exactly what the first
// caller just computed. "busy" tells the caller that fresh data is on its way; Status reports
// the refresh in progress (ViewStatus.Running). RefreshAll treats a busy upstream view like a
// refreshed one: its contents are valid (the previous or the new version).
//
// # Failures are durable; killed backends leave nothing behind
//
// A REFRESH that raises (bad data, CONCURRENTLY on duplicate rows, statement_timeout, cancel)
// is caught inside the function: the view keeps its previous contents, a "failed" history row
// with the error and SQLSTATE is written, and Refresh returns a *FailedError. A backend that is
// killed (pg_terminate_backend, crash, lost connection) cannot write its own failed row: its
// transaction is aborted, and the "running" row it inserted was never committed. So history
// and Status never show a phantom running refresh; the advisory lock dies with the session,
// and the next Refresh runs normally.
type Client struct {
	DB     Querier
	Schema string
	// Watch, when set, is called about once a second while a refresh runs longer than a
	// second, with what it is waiting for (a lock and who holds it), so a CLI can show
	// progress. It needs DB to be a *pgxpool.Pool (it asks from a second connection) and is
	// never called after Refresh returns.
	Watch func(Wait)
}

// Result is what `<schema>.refresh_view` returned for one view (or, in RefreshAll, why a view
// was skipped).
type Result struct {
	View       string     `json:"view"`
	Status     string     `json:"status"` // success | failed | busy | fresh | skipped
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMs float64    `json:"duration_ms"`
	RowsAfter  *int64     `json:"rows_after,omitempty"`
	Mode       string     `json:"mode,omitempty"`        // concurrent | blocking | incremental
	ModeReason string     `json:"mode_reason,omitempty"` // e.g. "unique index x_id_idx", "not populated yet"
	// RowsChanged (view rows deleted plus inserted, incremental mode) and ChangesApplied
	// (captured row changes consumed) are set for incremental views.
	RowsChanged    *int64 `json:"rows_changed,omitempty"`
	ChangesApplied *int64 `json:"changes_applied,omitempty"`
	Error          string `json:"error,omitempty"`
	SQLState       string `json:"sqlstate,omitempty"` // of a failed REFRESH, e.g. 22012, 21000
}

// FailedError is returned when the database recorded a failed refresh. The previous contents
// of the view are intact and the failure is in refresh_history.
type FailedError struct{ Result Result }

func (e *FailedError) Error() string {
	msg := fmt.Sprintf("refresh of %s failed: %s", e.Result.View, e.Result.Error)
	if e.Result.SQLState != "" {
		msg += " (SQLSTATE " + e.Result.SQLState + ")"
	}
	if e.Result.SQLState == SQLStateLockTimeout {
		return msg + "; the view keeps its previous contents. Refresh again when that session has finished, or give the view a longer refresh_lock_timeout in materialize.yaml"
	}
	return msg + "; the view keeps its previous contents. See `agent-mv status` and the refresh_history table, fix the cause, then refresh again"
}

// SQLState returns the SQLSTATE of the failed REFRESH.
func (e *FailedError) SQLState() string { return e.Result.SQLState }

// SQLStateLockTimeout (lock_not_available) is the SQLSTATE of a refresh that gave up waiting
// for a lock after the view's refresh_lock_timeout; its error names the blocking session.
const SQLStateLockTimeout = "55P03"

// ErrUnknownView is wrapped when the name is not a managed view of the schema (or is too long
// to be one).
var ErrUnknownView = errors.New("unknown materialized view")

// names carries the schema for boundary's SQL builders; the role names are not needed here.
func (c *Client) names() (boundary.Names, error) {
	if err := boundary.ValidateSchemaName(c.Schema); err != nil {
		return boundary.Names{}, err
	}
	return boundary.Names{Schema: c.Schema}, nil
}

// Refresh refreshes one view. A refresh that the database recorded as failed is returned as a
// *FailedError together with the result. Busy and fresh answers are not errors: check
// Result.Status. An unknown name wraps ErrUnknownView.
func (c *Client) Refresh(ctx context.Context, name string) (Result, error) {
	if pool, ok := c.DB.(*pgxpool.Pool); ok && c.Watch != nil {
		return c.refreshWatched(ctx, pool, name)
	}
	return c.refreshOn(ctx, c.DB, nil, name)
}

// refreshOn calls the refresh function on q; when ctx ends, another session of via cancels it
// (nil: boundary.CallRefreshCancelVia's default).
func (c *Client) refreshOn(ctx context.Context, q, via Querier, name string) (Result, error) {
	n, err := c.names()
	if err != nil {
		return Result{View: name, Status: StatusFailed, Error: err.Error()}, err
	}
	raw, err := boundary.CallRefreshCancelVia(ctx, q, via, n, name)
	if err != nil {
		err = c.wrap(name, err)
		return Result{View: name, Status: StatusFailed, Error: err.Error()}, err
	}
	res := fromBoundary(name, raw)
	if res.Status == StatusFailed {
		return res, &FailedError{Result: res}
	}
	return res, nil
}

func fromBoundary(name string, r boundary.RefreshResult) Result {
	res := Result{View: name, Status: r.Status, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		RowsAfter: r.RowsAfter, Mode: deref(r.Mode), ModeReason: deref(r.ModeReason),
		RowsChanged: r.RowsChanged, ChangesApplied: r.ChangesApplied,
		Error: deref(r.Error), SQLState: deref(r.SQLState)}
	if res.Status == "" {
		res.Status = StatusSuccess // the seed's function had no status key
	}
	if r.DurationMS != nil {
		res.DurationMs = *r.DurationMS
	}
	return res
}

// kindError is an error whose text is complete on its own (no sentinel's text appended) and
// which matches kind and its cause with errors.Is / errors.As.
type kindError struct {
	text        string
	kind, cause error
}

func (e *kindError) Error() string   { return e.text }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.cause} }

func (c *Client) wrap(name string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == boundary.SQLStateUnknownView && strings.HasPrefix(pgErr.Message, "unknown materialized view"):
			return &kindError{kind: ErrUnknownView, cause: err,
				text: fmt.Sprintf("refresh %s: %s (list the managed views with `agent-mv status` or the list_views tool)", name, pgErr.Message)}
		case pgErr.Code == boundary.SQLStateNameTooLong && pgErr.Message == "view name too long":
			return fmt.Errorf("refresh: view name too long (%d bytes; names have at most 63): %w", len(name), ErrUnknownView)
		case pgErr.Code == "42501":
			return fmt.Errorf("refresh %s: permission denied for %s.refresh_view: %w; run `agent-mv apply` as the admin to grant EXECUTE to the runtime role, and check AGENT_MV_RUNTIME_URL", name, c.Schema, err)
		case pgErr.Code == "25006": // read_only_sql_transaction
			return fmt.Errorf("refresh %s: %w; the transaction is read-only (the runtime role's sessions start with default_transaction_read_only = on): refresh in a transaction begun READ WRITE, or pass a pool", name, err)
		case pgErr.Code == "42883" || pgErr.Code == "3F000":
			return fmt.Errorf("refresh %s: %s.refresh_view does not exist: %w; run `agent-mv apply` first and check the target schema", name, c.Schema, err)
		}
	}
	return fmt.Errorf("refresh %s: %w", name, err)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
