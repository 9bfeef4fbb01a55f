package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Statuses a refresh can end with. Only success and failed are written to refresh_history;
// busy and fresh are answers of the function that did not refresh anything.
const (
	StatusSuccess = "success"
	StatusFailed  = "failed"
	StatusBusy    = "busy"    // another session is refreshing this view right now
	StatusFresh   = "fresh"   // refreshed within the view's min_refresh_interval; nothing done
	StatusSkipped = "skipped" // refresh-all only: an upstream view failed in this run
)

// Querier is what the client needs from a pool or connection (pgxpool.Pool, pgx.Conn, pgx.Tx).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Client refreshes the managed views of one schema through `<schema>.refresh_view(text)`.
// It needs only the runtime role: the function is SECURITY DEFINER.
type Client struct {
	DB     Querier
	Schema string
}

// Result is what `<schema>.refresh_view` returned for one view.
type Result struct {
	View       string     `json:"view"`
	Status     string     `json:"status"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMs float64    `json:"duration_ms"`
	RowsAfter  *int64     `json:"rows_after,omitempty"`
	Mode       string     `json:"mode,omitempty"`
	ModeReason string     `json:"mode_reason,omitempty"`
	Error      string     `json:"error,omitempty"`
	SQLState   string     `json:"sqlstate,omitempty"`
}

// FailedError is returned when the database recorded a failed refresh. The previous contents
// of the view are intact and the failure is in refresh_history.
type FailedError struct{ Result Result }

func (e *FailedError) Error() string {
	msg := fmt.Sprintf("refresh of %s failed: %s", e.Result.View, e.Result.Error)
	if e.Result.SQLState != "" {
		msg += " (SQLSTATE " + e.Result.SQLState + ")"
	}
	return msg + "; the view keeps its previous contents. See `agent-mv status` and the refresh_history table, fix the cause, then refresh again"
}

// ErrUnknownView is wrapped when the name is not a managed view of the schema.
var ErrUnknownView = errors.New("unknown materialized view")

func (c *Client) functionSQL() string {
	return "SELECT " + pgx.Identifier{c.Schema, "refresh_view"}.Sanitize() + "($1)"
}

// Refresh refreshes one view. A refresh that the database recorded as failed is returned as a
// *FailedError together with the result. Busy and fresh answers are not errors: check
// Result.Status.
func (c *Client) Refresh(ctx context.Context, name string) (Result, error) {
	var raw []byte
	err := c.DB.QueryRow(ctx, c.functionSQL(), name).Scan(&raw)
	if err != nil {
		return Result{View: name}, c.wrap(name, err)
	}
	res, err := decodeResult(name, raw)
	if err != nil {
		return res, err
	}
	if res.Status == StatusFailed {
		return res, &FailedError{Result: res}
	}
	return res, nil
}

func decodeResult(name string, raw []byte) (Result, error) {
	var r struct {
		Status     string      `json:"status"`
		StartedAt  *time.Time  `json:"started_at"`
		FinishedAt *time.Time  `json:"finished_at"`
		DurationMs json.Number `json:"duration_ms"`
		RowsAfter  *int64      `json:"rows_after"`
		Mode       string      `json:"mode"`
		ModeReason string      `json:"mode_reason"`
		Error      string      `json:"error"`
		SQLState   string      `json:"sqlstate"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return Result{View: name}, fmt.Errorf("refresh %s: decode function result %s: %w", name, raw, err)
	}
	res := Result{View: name, Status: r.Status, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		RowsAfter: r.RowsAfter, Mode: r.Mode, ModeReason: r.ModeReason, Error: r.Error, SQLState: r.SQLState}
	if res.Status == "" {
		res.Status = StatusSuccess // the seed's function had no status key
	}
	if r.DurationMs != "" {
		res.DurationMs, _ = r.DurationMs.Float64()
	}
	return res, nil
}

func (c *Client) wrap(name string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Message, "unknown materialized view"):
			return fmt.Errorf("refresh %s: %s: %w (list the managed views with `agent-mv status` or the list_views tool)", name, pgErr.Message, ErrUnknownView)
		case pgErr.Message == "view name too long":
			return fmt.Errorf("refresh: view name too long (%d characters; names have at most 63): %w", len(name), ErrUnknownView)
		case pgErr.Code == "42501":
			return fmt.Errorf("refresh %s: permission denied for %s.refresh_view: %w; run `agent-mv apply` as the admin to grant EXECUTE to the runtime role, and check AGENT_MV_RUNTIME_URL", name, c.Schema, err)
		case pgErr.Code == "42883" || pgErr.Code == "3F000":
			return fmt.Errorf("refresh %s: %s.refresh_view does not exist: %w; run `agent-mv apply` first and check the target schema", name, c.Schema, err)
		}
	}
	return fmt.Errorf("refresh %s: %w", name, err)
}
