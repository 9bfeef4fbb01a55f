package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/agentmv/agentmv/refresh"
)

// CallRecord is what the registry knows about one finished tool call: one audit line.
type CallRecord struct {
	Time     time.Time       `json:"time"`
	Agent    string          `json:"agent"`
	Tool     string          `json:"tool"`
	Args     json.RawMessage `json:"arguments,omitempty"`
	Outcome  string          `json:"outcome"` // "ok" or "error"
	ErrType  string          `json:"error_type,omitempty"`
	View     string          `json:"view,omitempty"` // the name argument of describe_view, refresh_view, get_lineage
	Rows     *int            `json:"rows,omitempty"` // query_view's rows returned
	Bytes    int             `json:"bytes"`          // the result's encoded size
	Trunc    bool            `json:"truncated,omitempty"`
	Duration float64         `json:"duration_ms"`
	ServedBy string          `json:"served_by,omitempty"` // query results: primary or replica
	// Status is refresh_view's refresh status (success, busy, fresh, failed) when the call
	// reached the view.
	Status string `json:"status,omitempty"`
}

// DefaultAgentName is the agent of calls served by the runtime role (no agent named): in
// CallRecords, metrics and spans.
const DefaultAgentName = "runtime"

// Outcomes of a CallRecord.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// Observer receives every finished call of a registry (see [Registry.Observe]). It runs on the
// caller's goroutine after the result is encoded; it must be quick and must not panic.
type Observer func(ctx context.Context, rec *CallRecord)

// Observe adds observers: each sees one CallRecord per call made after Observe returns
// (audit log, metrics). Registries made by Select and Toolset share them.
func (r *Registry) Observe(obs ...Observer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observers = append(r.observers, obs...)
}

// SetAgent names the agent this registry serves, for the CallRecords of calls whose request
// carries no authenticated identity (stdio, in-process calls). A bearer token's agent
// (TokenInfo.UserID, set by [NewHTTPServer]) wins.
func (r *Registry) SetAgent(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.agent = name
}

// record builds the CallRecord of a finished call.
func (r *Registry) record(ctx context.Context, agent string, c *Call, res resultInfo, start time.Time) *CallRecord {
	if c.Request != nil && c.Request.Extra != nil && c.Request.Extra.TokenInfo != nil {
		agent = c.Request.Extra.TokenInfo.UserID
	} else if ti := auth.TokenInfoFromContext(ctx); ti != nil {
		agent = ti.UserID
	}
	rec := &CallRecord{Time: start.UTC(), Agent: agent, Tool: c.Tool, Args: c.Arguments, Outcome: OutcomeOK,
		Bytes: res.bytes, Duration: float64(time.Since(start).Microseconds()) / 1000}
	if rec.Agent == "" {
		rec.Agent = DefaultAgentName
	}
	if res.err != nil {
		rec.Outcome, rec.ErrType = OutcomeError, res.err.ErrorType
	}
	var name struct {
		Name string `json:"name"`
	}
	if len(c.Arguments) > 0 && json.Unmarshal(c.Arguments, &name) == nil {
		rec.View = name.Name
	}
	switch o := res.out.(type) {
	case QueryOutput:
		n := o.RowCount
		rec.Rows, rec.Trunc, rec.ServedBy = &n, o.Truncated, o.ServedBy
	case *QueryOutput:
		n := o.RowCount
		rec.Rows, rec.Trunc, rec.ServedBy = &n, o.Truncated, o.ServedBy
	case refresh.Result:
		rec.Status = o.Status
	case *refresh.Result:
		rec.Status = o.Status
	}
	if rec.Rows != nil && rec.ServedBy == "" { // no replicas configured: the primary answered
		rec.ServedBy = ServedByPrimary
	}
	if rec.ErrType == ErrRefreshFailed { // refresh_view's failure envelope: the view was refreshed and failed
		rec.Status = refresh.StatusFailed
	}
	return rec
}

// resultInfo is what call() knows after encoding.
type resultInfo struct {
	out   any
	err   *ToolError
	bytes int
}

// AuditLog writes one JSON line per tool call (a [CallRecord]) to a file or a stream.
//
// Durability: each line is written with a single write(2) on a file opened O_APPEND, so
// concurrent writers (and other processes appending to the same file) never interleave lines.
// With FsyncEvery each line is also fsync'ed before the call returns (slower; a crash loses no
// acknowledged line); without it the kernel flushes (a machine crash may lose the last
// seconds, a process crash loses nothing). A failed write is counted ([AuditLog.Failures]),
// reported once per failure streak on the error log, and never fails or delays the call beyond
// the write itself. Rotation is logrotate's: on SIGHUP (or [AuditLog.Reopen]) the file is
// reopened by name.
type AuditLog struct {
	mu       sync.Mutex
	path     string
	w        io.Writer
	f        *os.File
	fsync    bool
	failures atomic.Int64
	failing  bool
	errLog   io.Writer
}

// AuditOptions tune [OpenAuditLog].
type AuditOptions struct {
	// FsyncEvery fsyncs the file after every line.
	FsyncEvery bool
	// ErrorLog receives a line when writing starts failing (default os.Stderr).
	ErrorLog io.Writer
}

// OpenAuditLog opens path for appending (creating it 0600).
func OpenAuditLog(path string, opts AuditOptions) (*AuditLog, error) {
	a := &AuditLog{path: path, fsync: opts.FsyncEvery, errLog: opts.ErrorLog}
	if a.errLog == nil {
		a.errLog = os.Stderr
	}
	if err := a.Reopen(); err != nil {
		return nil, err
	}
	return a, nil
}

// NewAuditWriter writes the audit log to w (e.g. os.Stderr; never stdout on a stdio server).
func NewAuditWriter(w io.Writer) *AuditLog {
	return &AuditLog{w: w, errLog: io.Discard}
}

// Reopen closes and reopens the file by name (after logrotate moved it). A no-op for a writer.
func (a *AuditLog) Reopen() error {
	if a.path == "" {
		return nil
	}
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log %s: %w (check the directory exists and is writable)", a.path, err)
	}
	a.mu.Lock()
	old := a.f
	a.f, a.w = f, f
	a.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// Close closes the file.
func (a *AuditLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f, a.w = nil, nil
	return err
}

// Failures is the number of audit lines that could not be written.
func (a *AuditLog) Failures() int64 { return a.failures.Load() }

// Observer returns the registry observer that writes each call's line.
func (a *AuditLog) Observer() Observer {
	return func(_ context.Context, rec *CallRecord) { _ = a.Write(rec) }
}

// Write writes one line. Errors are counted and reported, and returned for callers that care.
func (a *AuditLog) Write(rec *CallRecord) error {
	b, err := json.Marshal(rec) // outside the lock: concurrent calls encode in parallel
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		return a.fail(err)
	}
	b = append(b, '\n')
	if a.w == nil {
		return a.fail(errors.New("audit log is closed"))
	}
	if _, err := a.w.Write(b); err != nil {
		return a.fail(err)
	}
	if a.fsync && a.f != nil {
		if err := a.f.Sync(); err != nil {
			return a.fail(err)
		}
	}
	a.failing = false
	return nil
}

// fail counts a failure and reports the first of a streak; a.mu is held.
func (a *AuditLog) fail(err error) error {
	a.failures.Add(1)
	if !a.failing {
		a.failing = true
		fmt.Fprintf(a.errLog, "agentmv: audit log write failed (calls continue, failures are counted): %v\n", err)
	}
	return err
}
