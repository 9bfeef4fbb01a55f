package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentmv/agentmv/internal/connerr"
)

// Error types: the only values [ToolError.ErrorType] takes. Agents branch on them, so they
// are part of the public contract; add new ones here and nowhere else.
const (
	// ErrInvalidArgument: the arguments do not match the tool's input schema (missing or
	// unknown property, wrong type, value out of bounds) or are otherwise unusable.
	ErrInvalidArgument = "invalid_argument"
	// ErrNotAllowed: the request is well formed but outside what this tool may do: a statement
	// other than one plain SELECT, a relation outside the managed views, a denied function,
	// or a Postgres permission error (SQLSTATE 42501).
	ErrNotAllowed = "not_allowed"
	// ErrSyntax: the SQL does not parse (pg_query, or SQLSTATE 42601 from the server).
	ErrSyntax = "syntax"
	// ErrUnknownView: the named view is not managed here (SQLSTATE 42P01 or a registry miss).
	ErrUnknownView = "unknown_view"
	// ErrUnknownRelation: the named schema or table does not exist (setup tools).
	ErrUnknownRelation = "unknown_relation"
	// ErrTimeout: the statement ran past its time budget (SQLSTATE 57014, or the call's
	// context deadline).
	ErrTimeout = "timeout"
	// ErrReadOnly: the statement tried to write inside the read-only transaction (SQLSTATE 25006).
	ErrReadOnly = "read_only"
	// ErrUnavailable: the database cannot be reached or is shutting down (connect errors,
	// network errors, SQLSTATE class 08, 57P01-57P03). Retrying later may help.
	ErrUnavailable = "unavailable"
	// ErrCanceled: the caller canceled the call.
	ErrCanceled = "canceled"
	// ErrQuery: Postgres rejected the query for another reason (unknown column, bad cast,
	// division by zero...); the message carries Postgres' text and SQLSTATE.
	ErrQuery = "query_error"
	// ErrRefreshFailed: refresh_view ran REFRESH and Postgres failed it; the view keeps its
	// previous contents and the failure is recorded in <S>.refresh_history.
	ErrRefreshFailed = "refresh_failed"
	// ErrInternal: a bug or an unexpected failure inside the tool, including a recovered panic.
	ErrInternal = "internal"
)

// ErrorTypes lists every error type with a one-line meaning, in a stable order. Tool
// descriptions and docs render it; tests check that mapped errors use only these.
var ErrorTypes = []struct{ Type, Meaning string }{
	{ErrInvalidArgument, "arguments do not match the input schema"},
	{ErrNotAllowed, "outside what the tool may do (statement, relation, function or privilege)"},
	{ErrSyntax, "the SQL does not parse"},
	{ErrUnknownView, "no managed view of that name"},
	{ErrUnknownRelation, "no schema or table of that name"},
	{ErrTimeout, "the statement exceeded its time budget"},
	{ErrReadOnly, "a write was attempted in the read-only transaction"},
	{ErrUnavailable, "the database cannot be reached; retry later"},
	{ErrCanceled, "the call was canceled by the caller"},
	{ErrQuery, "Postgres rejected the query; see message"},
	{ErrRefreshFailed, "the refresh failed; the view keeps its old contents (see refresh_history)"},
	{ErrInternal, "unexpected failure inside the tool"},
}

// ToolError is the structured error every tool returns to the agent. It is serialized as the
// content of an MCP tool result with isError=true:
//
//	{"error_type": "not_allowed", "message": "...", "hint": "..."}
//
// It is never turned into a protocol error. Err, when set, is the underlying cause; it is
// kept for logs and middleware (errors.Is/As work through Unwrap) and never sent to the client.
type ToolError struct {
	ErrorType string `json:"error_type"`
	Message   string `json:"message"`
	Hint      string `json:"hint"`
	Err       error  `json:"-"`
}

// NewError returns a ToolError of the given type (one of the Err* constants).
func NewError(errorType, message, hint string) *ToolError {
	return &ToolError{ErrorType: errorType, Message: message, Hint: hint}
}

// Error implements error.
func (e *ToolError) Error() string {
	if e.Hint == "" {
		return e.ErrorType + ": " + e.Message
	}
	return e.ErrorType + ": " + e.Message + " (hint: " + e.Hint + ")"
}

// Unwrap returns the underlying cause, if any.
func (e *ToolError) Unwrap() error { return e.Err }

// JSON returns the wire envelope {error_type, message, hint}.
func (e *ToolError) JSON() []byte {
	b, err := json.Marshal(e)
	if err != nil { // cannot happen: three strings
		return []byte(`{"error_type":"internal","message":"cannot encode error","hint":""}`)
	}
	return b
}

// PanicError is the cause of an [ErrInternal] ToolError made from a recovered panic. The
// stack stays on the server (middleware can log it); the agent sees only the message.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

func newPanicError(tool string, v any) *ToolError {
	return &ToolError{
		ErrorType: ErrInternal,
		Message:   fmt.Sprintf("tool %s failed unexpectedly (panic: %v)", tool, v),
		Hint:      "this is a bug in the tool, not in your request; report it with the message above",
		Err:       &PanicError{Value: v, Stack: debug.Stack()},
	}
}

// ErrorTypeOf returns the error type AsToolError would give err ("" for a nil error). It is
// the cheap way for middleware to label metrics.
func ErrorTypeOf(err error) string {
	if err == nil {
		return ""
	}
	return AsToolError(err).ErrorType
}

// AsToolError converts any error into a ToolError, keeping err as the cause:
//   - a *ToolError anywhere in the chain is returned as is;
//   - a failed connect (*pgconn.ConnectError) is unavailable, whatever its cause; a refused
//     login (SQLSTATE class 28) says to check the role and password, not to retry;
//   - a *pgconn.PgError is mapped by SQLSTATE (42501 not_allowed, 57014 timeout, 42601
//     syntax, 42P01 unknown_view, 25006 read_only, 08xxx/28xxx/57P01-57P03 unavailable, any
//     other query_error);
//   - network errors become unavailable; context deadline/cancel become timeout/canceled;
//   - everything else is internal.
func AsToolError(err error) *ToolError {
	if err == nil {
		return nil
	}
	var te *ToolError
	if errors.As(err, &te) {
		return te
	}
	// A failed connect first: its cause may be a PgError (a refused login), which is not a
	// problem of the query.
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		te := &ToolError{ErrorType: ErrUnavailable, Err: err,
			Message: "cannot connect to the database: " + connectCause(err),
			Hint:    "the database is unreachable; retry later or ask the operator to run `agent-mv doctor`"}
		var pgErr *pgconn.PgError
		if errors.As(connectErr, &pgErr) {
			if e, ok := sqlstateErrors[pgErr.Code]; ok && e.typ == ErrUnavailable {
				te.Hint = e.hint
			} else if strings.HasPrefix(pgErr.Code, "28") {
				te.Hint = loginHint
			}
		}
		return te
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fromPgError(pgErr, err)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &ToolError{ErrorType: ErrTimeout, Err: err, Message: "the call ran out of time",
			Hint: "make the query cheaper (filter on indexed columns, aggregate, select fewer columns) or ask for fewer rows"}
	case errors.Is(err, context.Canceled):
		return &ToolError{ErrorType: ErrCanceled, Err: err, Message: "the call was canceled", Hint: "retry if you still need the result"}
	}
	var netErr net.Error
	if errors.As(err, &netErr) || pgconn.SafeToRetry(err) || isClosedConn(err) {
		return &ToolError{ErrorType: ErrUnavailable, Err: err,
			Message: "lost the connection to the database: " + err.Error(),
			Hint:    "retry in a moment; if it keeps failing ask the operator to check the database"}
	}
	return &ToolError{ErrorType: ErrInternal, Err: err, Message: err.Error(),
		Hint: "unexpected failure inside the tool; retry once, then report the message"}
}

// connectCause is the real cause of a failed connect, without pgx's TLS fallback noise.
func connectCause(err error) string {
	c, _ := connerr.Cause(err)
	return c
}

func isClosedConn(err error) bool {
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "conn closed")
}

// sqlstateErrors maps the SQLSTATEs agents meet to an error type and what to do next.
var sqlstateErrors = map[string]struct {
	typ  string
	hint string
}{
	"42501": {ErrNotAllowed, "this role may read only the managed views; call list_views to see them"},
	"57014": {ErrTimeout, "the statement hit its time limit; make the query cheaper (filter, aggregate, select fewer columns) or ask for fewer rows"},
	"42601": {ErrSyntax, "fix the SQL syntax; one plain SELECT is expected"},
	"42P01": {ErrUnknownView, "call list_views to see the views you can query"},
	"25006": {ErrReadOnly, "this tool runs read-only; writes are not possible here"},
	"57P01": {ErrUnavailable, unavailableHint},
	"57P02": {ErrUnavailable, unavailableHint},
	"57P03": {ErrUnavailable, unavailableHint},
}

const unavailableHint = "the database is restarting or unreachable; retry in a moment"

// loginHint is the next step when the server refused the login (SQLSTATE class 28).
const loginHint = "the database refused the login (wrong role or password in the connection string); retrying will not help: ask the operator to check it with `agent-mv doctor`"

func fromPgError(pgErr *pgconn.PgError, err error) *ToolError {
	msg := pgErr.Message
	if pgErr.Detail != "" {
		msg += " (" + pgErr.Detail + ")"
	}
	if pgErr.Hint != "" { // Postgres's own suggestion, e.g. the column name with its capitals
		msg += "; Postgres: " + pgErr.Hint
	}
	msg += " [SQLSTATE " + pgErr.Code + "]"
	te := &ToolError{Message: msg, Err: err, ErrorType: ErrQuery,
		Hint: "Postgres rejected the query; fix it using the message (call describe_view for column names and types)"}
	if e, ok := sqlstateErrors[pgErr.Code]; ok {
		te.ErrorType, te.Hint = e.typ, e.hint
	} else if strings.HasPrefix(pgErr.Code, "08") { // connection exceptions
		te.ErrorType, te.Hint = ErrUnavailable, unavailableHint
	} else if strings.HasPrefix(pgErr.Code, "28") { // invalid authorization
		te.ErrorType, te.Hint = ErrUnavailable, loginHint
	}
	return te
}
