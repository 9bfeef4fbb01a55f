package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/lineage"
	"github.com/agentmv/agentmv/refresh"
)

// DB is what the scheduler needs from the runtime role's pool (*pgxpool.Pool): queries, and
// transactions for claims.
type DB interface {
	refresh.Querier
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Defaults of Options.
const (
	DefaultParallel      = 4
	DefaultPollInterval  = 5 * time.Second
	DefaultBackoffBase   = time.Second
	DefaultBackoffMax    = 5 * time.Minute
	DefaultShutdownGrace = 10 * time.Second
)

// Options configure a Scheduler. Zero fields take the defaults above.
type Options struct {
	// DB is the runtime role's pool. Refreshes run through <schema>.refresh_view, so history,
	// single flight and mode rules are those of every other refresh.
	DB DB
	// Schema is the target schema (default agent_mv).
	Schema string
	// Parallel bounds how many refreshes this process runs at once.
	Parallel int
	// PollInterval is the longest the scheduler sleeps between two looks at the database. It
	// wakes earlier when a view becomes due; the poll notices what others changed (a refresh by
	// an agent or another process, a new apply).
	PollInterval time.Duration
	// BackoffBase and BackoffMax shape the wait after consecutive failures of a view:
	// base, 2·base, 4·base, ... at most max, counted from the failure's finished_at.
	BackoffBase, BackoffMax time.Duration
	// ShutdownGrace is how long Run lets running refreshes finish once its context ends; then
	// it cancels them (the database records them as failed, SQLSTATE 57014, and keeps the old
	// contents).
	ShutdownGrace time.Duration
	// Logger receives one line per batch and per failure. Default: discard.
	Logger *slog.Logger
	// OnResult, when set, receives every view's result of every batch (success, failed, busy,
	// fresh, skipped), e.g. for metrics (tools.Metrics.ObserveRefresh). It runs on the
	// scheduler's goroutine and must be quick.
	OnResult func(refresh.Result)
}

// Scheduler keeps the views that have a refresh_every fresh. Several schedulers (in one
// process or many) may run against one database: each refresh is claimed under the view's
// refresh lock and re-checked there, so a view refreshed by one is not refreshed again by
// another (see claim). Use New, then Run.
type Scheduler struct {
	opts   Options
	client *refresh.Client
	slots  chan struct{} // Parallel tokens shared by all batches

	mu       sync.Mutex
	inFlight map[string]bool // views of this process's running batches
	failures failures
	wakeup   chan struct{} // a batch ended
}

// New checks the options and returns a scheduler that has not started.
func New(opts Options) (*Scheduler, error) {
	if opts.DB == nil {
		return nil, errors.New("scheduler: no database pool; pass the runtime role's pool (AGENT_MV_RUNTIME_URL)")
	}
	if opts.Schema == "" {
		opts.Schema = boundary.DefaultSchema
	}
	if err := boundary.ValidateSchemaName(opts.Schema); err != nil {
		return nil, err
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.BackoffMax < opts.BackoffBase {
		opts.BackoffMax = opts.BackoffBase
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Scheduler{
		opts:     opts,
		client:   &refresh.Client{DB: opts.DB, Schema: opts.Schema},
		slots:    make(chan struct{}, opts.Parallel),
		inFlight: map[string]bool{},
		failures: failures{base: opts.BackoffBase, max: opts.BackoffMax, views: map[string]*failureState{}, unrecorded: map[string]*failureState{}},
		wakeup:   make(chan struct{}, 1),
	}, nil
}

// Run schedules until ctx ends, then stops starting refreshes, lets running ones finish for up
// to ShutdownGrace, cancels the rest and returns. A database that cannot be reached is logged
// and retried every PollInterval; Run itself returns only nil or ctx's end.
func (s *Scheduler) Run(ctx context.Context) error {
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var batches sync.WaitGroup
	for {
		wait := s.tick(ctx, workCtx, &batches)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			s.drain(&batches, cancelWork)
			return nil
		case <-timer.C:
		case <-s.wakeup:
			timer.Stop()
		}
	}
}

// drain waits for running batches for up to ShutdownGrace, then cancels their refreshes and
// waits a little more for the cancellations to come back.
func (s *Scheduler) drain(batches *sync.WaitGroup, cancelWork context.CancelFunc) {
	done := make(chan struct{})
	go func() { batches.Wait(); close(done) }()
	grace := time.NewTimer(s.opts.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
		return
	case <-grace.C:
	}
	s.opts.Logger.Warn("scheduler: shutdown grace over; canceling running refreshes", "grace", s.opts.ShutdownGrace)
	cancelWork()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.opts.Logger.Warn("scheduler: refreshes did not return within 5s of their cancellation")
	}
}

// tick reads the views, starts a batch when something is due, and returns how long to sleep.
func (s *Scheduler) tick(ctx, workCtx context.Context, batches *sync.WaitGroup) time.Duration {
	now, views, g, err := s.read(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.opts.Logger.Warn("scheduler: read the views; retrying", "err", err, "retry_in", s.opts.PollInterval)
		}
		return s.opts.PollInterval
	}
	s.mu.Lock()
	s.failures.observe(now, views)
	b := planBatch(now, views, g, s.failures.retryAt(), s.inFlight)
	for _, v := range b.views {
		s.inFlight[v] = true
	}
	s.mu.Unlock()
	if len(b.views) > 0 {
		batches.Add(1)
		go func() {
			defer batches.Done()
			s.runBatch(ctx, workCtx, b, views, g)
		}()
	}
	wait := s.opts.PollInterval
	if !b.wake.IsZero() {
		wait = min(wait, b.wake.Sub(now))
	}
	return max(wait, 10*time.Millisecond)
}

// read returns the database clock and what the registry, the history and the locks say about
// every managed view (one status query), with the dependency graph.
func (s *Scheduler) read(ctx context.Context) (time.Time, map[string]viewInfo, *lineage.Graph, error) {
	var now time.Time
	if err := s.opts.DB.QueryRow(ctx, "SELECT pg_catalog.clock_timestamp()").Scan(&now); err != nil {
		return now, nil, nil, fmt.Errorf("read the database clock: %w", err)
	}
	st, err := s.client.Status(ctx)
	if err != nil {
		return now, nil, nil, err
	}
	views := make(map[string]viewInfo, len(st))
	deps := make(map[string][]string, len(st))
	for _, v := range st {
		views[v.Name] = infoOf(v)
		deps[v.Name] = v.Upstream
	}
	return now, views, lineage.NewGraph(deps), nil
}

// infoOf keeps what the scheduler needs of a view's status.
func infoOf(v refresh.ViewStatus) viewInfo {
	return viewInfo{name: v.Name, upstream: v.Upstream, every: v.RefreshEvery, populated: v.Populated,
		running: v.Running, lastStatus: v.LastStatus, lastStarted: v.LastStartedAt, lastFinish: v.LastFinishedAt,
		lastSuccess: v.LastSuccessAt, dataAsOf: v.DataAsOf}
}

// runBatch refreshes one batch in DAG order (refresh.Client.RefreshGraph with a claim per
// view), then frees its views and wakes the loop.
func (s *Scheduler) runBatch(ctx, workCtx context.Context, b batch, views map[string]viewInfo, g *lineage.Graph) {
	defer func() {
		s.mu.Lock()
		for _, v := range b.views {
			delete(s.inFlight, v)
		}
		s.mu.Unlock()
		select {
		case s.wakeup <- struct{}{}:
		default:
		}
	}()
	deps := map[string][]string{}
	for _, v := range g.Nodes() {
		deps[v] = g.Upstream(v)
	}
	sum, err := s.client.RefreshGraph(ctx, refresh.Graph{Upstream: deps}, refresh.AllOptions{
		Select:   b.views,
		Parallel: s.opts.Parallel,
		RefreshView: func(_ context.Context, v string, upstream []refresh.Result) (refresh.Result, error) {
			return s.refreshOne(workCtx, v, b.threshold(v, upstream, views))
		},
	})
	for _, r := range sum.Results {
		if s.opts.OnResult != nil {
			s.opts.OnResult(r)
		}
		if r.Status == refresh.StatusFailed {
			s.opts.Logger.Warn("scheduler: refresh failed; backing off", "view", r.View, "error", r.Error, "sqlstate", r.SQLState)
		}
	}
	level := slog.LevelInfo
	if err != nil && !errors.Is(err, refresh.ErrRunFailed) {
		level = slog.LevelWarn
	}
	s.opts.Logger.Log(ctx, level, "scheduler: batch done", "views", len(b.views), "refreshed", sum.Succeeded,
		"failed", sum.Failed, "skipped", sum.Skipped, "already_done", sum.Fresh, "busy", sum.Busy, "elapsed", sum.Elapsed, "err", err)
}

// threshold is the claim condition of v in this batch: refresh v unless a refresh of it
// started after this time. For a root it is the start of its newest refresh when the tick
// looked; for a view brought along it is (also) the newest contents of its upstream views:
// what they finished with in this batch, or when they last succeeded.
func (b batch) threshold(v string, upstream []refresh.Result, views map[string]viewInfo) time.Time {
	after := b.after[v]
	for _, u := range upstream {
		t := views[u.View].lastSuccess
		if (u.Status == refresh.StatusSuccess || u.Status == refresh.StatusFresh) && u.FinishedAt != nil {
			t = u.FinishedAt
		}
		if t != nil && t.After(after) {
			after = *t
		}
	}
	return after
}

// refreshOne waits for a parallel slot and claims and refreshes v.
func (s *Scheduler) refreshOne(ctx context.Context, v string, after time.Time) (refresh.Result, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return refresh.Result{View: v, Status: refresh.StatusFailed}, fmt.Errorf("refresh %s: %w", v, context.Cause(ctx))
	}
	defer func() { <-s.slots }()
	res, err := claim(ctx, s.opts.DB, s.opts.Schema, v, after)
	// A failure refresh_view recorded is backed off from the history (failures.observe); one
	// that left no history row (no connection, a permission or read-only error before the
	// function ran) is backed off here, or every tick would retry it at once.
	var recorded *refresh.FailedError
	s.mu.Lock()
	switch {
	case err == nil || errors.As(err, &recorded):
		s.failures.clearUnrecorded(v)
	case ctx.Err() == nil:
		s.failures.failedUnrecorded(v)
	}
	s.mu.Unlock()
	return res, err
}
