package boundary

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SQLSTATEs raised by <S>.refresh_view for requests it rejects (the texts are the seed's).
const (
	// SQLStateNameTooLong comes with "view name too long".
	SQLStateNameTooLong = "22023" // invalid_parameter_value
	// SQLStateUnknownView comes with "unknown materialized view: <name>".
	SQLStateUnknownView = "42704" // undefined_object
)

// Refresh result statuses (the "status" key of refresh_view's jsonb).
const (
	StatusSuccess = "success" // refreshed; history row "success"
	StatusFailed  = "failed"  // REFRESH raised; history row "failed" with error and sqlstate
	StatusBusy    = "busy"    // another session is refreshing this view; nothing done, no history row
	StatusFresh   = "fresh"   // last success is within min_refresh_interval; nothing done, no history row
)

// Refresh modes and history statuses.
const (
	ModeConcurrent  = "concurrent"
	ModeBlocking    = "blocking"
	ModeIncremental = "incremental" // an incremental view refreshed from its captured changes
	HistoryRunning  = "running"
)

// refreshFunctionSQL is <S>.refresh_view(p_name text) RETURNS jsonb.
//
// Contract (result keys: status, view, started_at, finished_at, duration_ms, rows_after, mode,
// mode_reason, error, sqlstate; absent values are JSON null):
//
//   - length(p_name) > 128 raises 'view name too long' (SQLSTATE 22023); a name without a row
//     in <S>.views, or whose materialized view is missing from <S>, raises
//     'unknown materialized view: <name>' (42704). These stay exceptions: nothing is recorded.
//   - Single flight: pg_try_advisory_xact_lock(hashtext('agentmv:' || <S>), hashtext(p_name)).
//     When another transaction holds it the function returns status "busy" at once instead of
//     waiting. Waiting would keep a connection and a transaction open behind a REFRESH that may
//     take minutes, and when it finally got the lock it would recompute exactly what the other
//     caller just computed. "busy" tells the agent that fresh data is on its way; status (via
//     RunningRefreshes) shows the refresh in progress. The lock is transaction scoped, so it
//     is released when the caller commits, never leaked.
//   - min_refresh_interval (from <S>.views): if the last successful refresh finished within it,
//     return status "fresh" (finished_at = that refresh) without refreshing.
//   - Mode: CONCURRENTLY only when Postgres would accept it, by the one definition in
//     refreshmode.go (the "refresh_mode" fragment, also behind RefreshModes): the view is
//     populated and has a unique btree index that is valid, ready, live, immediate, without
//     WHERE clause, without expressions, on plain columns only. mode_reason says why, e.g.
//     'unique index daily_revenue_day_product_id_idx', 'not populated yet',
//     'no usable unique index (partial index x_idx has a WHERE clause)'.
//   - A 'running' history row is inserted first; REFRESH runs in an inner BEGIN ... EXCEPTION
//     block. On error (including statement_timeout / cancel) the subtransaction rolls the
//     REFRESH back, so the view keeps its previous contents, the row becomes 'failed' with
//     SQLERRM and SQLSTATE, and the function RETURNS status "failed" instead of raising: the
//     history row is durable once the caller commits (the seed re-raised and lost it). One
//     cancel request signals the backend twice (process and process group): when the second
//     lands after the inner block, recording and answering are retried once, so it cannot
//     roll the recorded failure back (found by the flake hunt, issue 22).
//   - rows_after is exact. Blocking mode reads it from the transaction's own insert counter
//     (pg_stat_get_xact_tuples_inserted delta: a blocking REFRESH truncates and inserts every
//     row), which costs nothing; measured on PG15 with 1M rows: REFRESH 0.79-0.86 s, count(*)
//     0.09 s, i.e. count(*) would add about 11 %. Concurrent mode (and track_counts = off)
//     uses count(*): a concurrent REFRESH of the same view took 6.8 s, so the count adds ~1 %.
//   - called_by = session_user (the login role, not the definer).
//   - Only a caller whose login role (session_user) may SELECT the view may refresh it; any
//     other gets the unknown name's error (42704), so an agent cannot refresh, nor confirm
//     the name of, another agent's view. agentmv's roles cannot SET ROLE, so session_user is
//     the caller; the admin and the owner role may refresh every view.
//   - Bounded lock wait: REFRESH runs with lock_timeout set to the view's
//     refresh_lock_timeout (<S>.views; DefaultRefreshLockTimeout when NULL), under the
//     function's own SET lock_timeout clause so the caller's setting is neither used nor
//     changed. A REFRESH that cannot get a lock in time fails like any other (SQLSTATE 55P03,
//     recorded), and its error names what blocked it: each relation the refresh needs (the
//     view, and everything it reads through views and partitions) that another session holds
//     or waits for in a conflicting mode, with that session's pid and role, the mode it holds
//     and the mode the refresh needs ("table public.orders is locked by pid 4242 (role app,
//     holding AccessExclusiveLock); the refresh needs AccessShareLock on it"). The seed waited
//     for ever: an agent's refresh behind a long DDL or a reader hung until its client timed
//     out.
var refreshFunctionSQL = mustSQL("refresh_function", `
CREATE OR REPLACE FUNCTION {{.Function}}(p_name text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog
SET lock_timeout = {{.DefaultRefreshLockTimeout}}
AS $agentmv$
DECLARE
    v_schema constant text := {{.SchemaLiteral}};
    v_lock_timeout interval;
    v_lock_ms bigint;
    v_blockers text;
    v_started timestamptz;
    v_finished timestamptz;
    v_last timestamptz;
    v_interval interval;
    v_strategy text;
    v_threshold float8;
    v_changed bigint;
    v_changes bigint;
    v_relid oid;
    v_mode text;
    v_reason text;
    v_rows bigint;
    v_ins_before bigint;
    v_history_id bigint;
    v_err text;
    v_state text;
    v_status text := 'success';
BEGIN
    IF length(p_name) > 128 THEN
        RAISE EXCEPTION 'view name too long' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT v.min_refresh_interval, v.refresh_lock_timeout, v.refresh_strategy, v.incremental_threshold
      INTO v_interval, v_lock_timeout, v_strategy, v_threshold
      FROM {{.Views}} v WHERE v.name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown materialized view: %', p_name
            USING ERRCODE = 'undefined_object', HINT = 'list_views shows the managed views';
    END IF;

    SELECT c.oid INTO v_relid
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = v_schema AND c.relname = p_name AND c.relkind = {{template "managed_relkind" "v_strategy"}};
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown materialized view: %', p_name
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'it is registered but missing from the database',
                  HINT = 'run agent-mv apply';
    END IF;

    -- Only a caller that may read the view may refresh it (each agent refreshes its own views);
    -- the error is the unknown name's, so another agent's view names are never confirmed.
    IF NOT pg_catalog.has_table_privilege(session_user, v_relid, 'SELECT') THEN
        RAISE EXCEPTION 'unknown materialized view: %', p_name
            USING ERRCODE = 'undefined_object', HINT = 'list_views shows the managed views';
    END IF;

    IF NOT pg_try_advisory_xact_lock({{template "refresh_lock_key1" "v_schema"}}, {{template "refresh_lock_key2" "p_name"}}) THEN
        RETURN jsonb_build_object(
            'status', 'busy', 'view', p_name,
            'started_at', NULL, 'finished_at', NULL, 'duration_ms', NULL, 'rows_after', NULL,
            'mode', NULL, 'mode_reason', NULL, 'rows_changed', NULL, 'changes_applied', NULL,
            'error', format('a refresh of %s is already running; try again when it finishes', p_name),
            'sqlstate', NULL);
    END IF;

    IF v_interval IS NOT NULL THEN
        SELECT h.finished_at INTO v_last
          FROM {{.History}} h
         WHERE h.view_name = p_name AND h.status = 'success'
         ORDER BY h.started_at DESC
         LIMIT 1;
        IF v_last IS NOT NULL AND v_last > clock_timestamp() - v_interval THEN
            RETURN jsonb_build_object(
                'status', 'fresh', 'view', p_name,
                'started_at', NULL, 'finished_at', v_last, 'duration_ms', NULL, 'rows_after', NULL,
                'mode', NULL, 'mode_reason', NULL, 'rows_changed', NULL, 'changes_applied', NULL,
                'error', format('last refreshed at %s, within min_refresh_interval %s', v_last, v_interval),
                'sqlstate', NULL);
        END IF;
    END IF;

    IF v_strategy = 'incremental' THEN
        SELECT m.mode, m.reason INTO v_mode, v_reason FROM {{.IncrementalMode}}(p_name, v_threshold) m;
    ELSE
        SELECT m.mode, m.reason INTO v_mode, v_reason
          FROM pg_class c, LATERAL ({{template "refresh_mode"}}) m
         WHERE c.oid = v_relid;
    END IF;

    v_started := clock_timestamp();
    INSERT INTO {{.History}} (view_name, started_at, status, mode, mode_reason, called_by)
    VALUES (p_name, v_started, 'running', v_mode, v_reason, session_user)
    RETURNING id INTO v_history_id;

    -- Local to this function (its SET lock_timeout clause restores the caller's at exit).
    v_lock_ms := round(extract(epoch FROM coalesce(v_lock_timeout, {{.DefaultRefreshLockTimeout}}::interval)) * 1000);
    PERFORM set_config('lock_timeout', v_lock_ms || 'ms', true);

    -- The outer block catches a second cancel signal of the same request that arrives while
    -- the inner handler runs (see the retry below): the refresh is recorded as canceled.
    BEGIN
    BEGIN
        IF v_strategy = 'incremental' THEN
            SELECT r.mode, coalesce(r.reason, v_reason), r.rows_after, r.rows_changed, r.changes
              INTO v_mode, v_reason, v_rows, v_changed, v_changes
              FROM {{.IncrementalRefresh}}(p_name, v_mode) r;
        ELSIF v_mode = 'concurrent' THEN
            EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I.%I', v_schema, p_name);
            EXECUTE format('SELECT count(*) FROM %I.%I', v_schema, p_name) INTO v_rows;
        ELSE
            v_ins_before := pg_stat_get_xact_tuples_inserted(v_relid);
            EXECUTE format('REFRESH MATERIALIZED VIEW %I.%I', v_schema, p_name);
            IF current_setting('track_counts')::boolean THEN
                v_rows := pg_stat_get_xact_tuples_inserted(v_relid) - v_ins_before;
            ELSE
                EXECUTE format('SELECT count(*) FROM %I.%I', v_schema, p_name) INTO v_rows;
            END IF;
        END IF;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE;
        IF v_state = '55P03' THEN
            -- Name what blocked the refresh: conflicting locks of other sessions on the view
            -- and on everything it reads (through views and partitions).
            WITH RECURSIVE rels(oid) AS (
                SELECT v_relid
              UNION
                SELECT x.oid FROM rels r CROSS JOIN LATERAL (
                    SELECT d.refobjid AS oid
                      FROM pg_rewrite w
                      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                                      AND d.refclassid = 'pg_class'::regclass
                     WHERE w.ev_class = r.oid AND d.refobjid <> r.oid
                    UNION ALL
                    SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = r.oid) x
            )
            SELECT string_agg(format('%s %I.%I is locked by pid %s (%s%s %s); the refresh needs %s on it',
                       CASE c.relkind WHEN 'm' THEN 'materialized view' WHEN 'v' THEN 'view'
                                      WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table'
                                      ELSE 'table' END,
                       n.nspname, c.relname, l.pid, coalesce('role ' || a.usename || ', ', ''),
                       CASE WHEN l.granted THEN 'holding' ELSE 'queued for' END, l.mode,
                       CASE WHEN c.oid <> v_relid THEN 'AccessShareLock'
                            WHEN v_mode = 'concurrent' THEN 'ExclusiveLock'
                            WHEN v_mode = 'incremental' THEN 'RowExclusiveLock'
                            ELSE 'AccessExclusiveLock' END),
                   '; ' ORDER BY n.nspname, c.relname, l.pid)
              INTO v_blockers
              FROM rels r
              JOIN pg_class c ON c.oid = r.oid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_locks l ON l.locktype = 'relation' AND l.relation = r.oid AND l.pid <> pg_backend_pid()
                             AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
              LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE CASE WHEN c.oid <> v_relid THEN l.mode = 'AccessExclusiveLock'
                        WHEN v_mode = 'concurrent' THEN l.mode NOT IN ('AccessShareLock', 'RowShareLock')
                        WHEN v_mode = 'incremental' THEN l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
                        ELSE true END;
            v_err := format('lock timeout after %s: %s',
                CASE WHEN v_lock_ms % 1000 = 0 THEN (v_lock_ms / 1000) || 's' ELSE v_lock_ms || 'ms' END,
                coalesce(v_blockers, 'another session held a lock the refresh needed and released it before it could be named'));
        END IF;
        v_status := 'failed';
        v_rows := NULL;
        v_changed := NULL;
        v_changes := NULL;
    END;
    EXCEPTION WHEN query_canceled THEN
        v_status := 'failed';
        v_rows := NULL;
        v_changed := NULL;
        v_changes := NULL;
        v_err := coalesce(v_err, 'canceling statement due to user request');
        v_state := coalesce(v_state, '57014');
    END;

    v_finished := clock_timestamp();
    -- One cancel request can reach this backend twice (the postmaster signals the process and
    -- its process group). The first is caught above and recorded; a second one arriving here
    -- would roll the whole call back, record included. So recording and answering are retried
    -- once after a cancel; a cancel that arrives again is raised.
    FOR v_try IN 1..2 LOOP
        BEGIN
            UPDATE {{.History}}
               SET finished_at = v_finished, status = v_status, rows_after = v_rows, error = v_err, sqlstate = v_state,
                   mode = v_mode, mode_reason = v_reason, rows_changed = v_changed, changes_applied = v_changes
             WHERE id = v_history_id;

            RETURN jsonb_build_object(
                'status', v_status, 'view', p_name,
                'started_at', v_started, 'finished_at', v_finished,
                'duration_ms', round((extract(epoch FROM (v_finished - v_started)) * 1000)::numeric, 3),
                'rows_after', v_rows, 'mode', v_mode, 'mode_reason', v_reason,
                'rows_changed', v_changed, 'changes_applied', v_changes,
                'error', v_err, 'sqlstate', v_state);
        EXCEPTION WHEN query_canceled THEN
            IF v_try = 2 THEN
                RAISE;
            END IF;
        END;
    END LOOP;
END;
$agentmv$`)

// DefaultRefreshLockTimeout bounds how long refresh_view waits for a lock (on the view or on
// a relation it reads) when the view sets no refresh_lock_timeout. Long enough for the
// short locks of ordinary writes and quick DDL, short enough that an agent hears back.
const DefaultRefreshLockTimeout = 5 * time.Second

// RefreshResult is the decoded jsonb of <S>.refresh_view. Pointers are nil where the function
// returned JSON null (busy and fresh results carry no timing or mode).
type RefreshResult struct {
	Status     string     `json:"status"`
	View       string     `json:"view"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DurationMS *float64   `json:"duration_ms"`
	RowsAfter  *int64     `json:"rows_after"`
	Mode       *string    `json:"mode"`
	ModeReason *string    `json:"mode_reason"`
	// RowsChanged (rows deleted plus inserted) and ChangesApplied (captured row changes
	// consumed) are set by incremental views' refreshes (RowsChanged only when incremental).
	RowsChanged    *int64  `json:"rows_changed"`
	ChangesApplied *int64  `json:"changes_applied"`
	Error          *string `json:"error"`
	SQLState       *string `json:"sqlstate"`
}

// RefreshViewSQL calls the function; $1 is the view name. Scan the single jsonb column into a
// RefreshResult (pgx decodes jsonb into structs).
func (n Names) RefreshViewSQL() string {
	return refreshViewCall.render(n)
}

var refreshViewCall = mustSQL("refresh_view_call", `SELECT {{.Function}}($1)`)

// RefreshView calls <S>.refresh_view(name) on q and decodes the result. Rejections (unknown
// name, too long) come back as errors (*pgconn.PgError with SQLStateUnknownView or
// SQLStateNameTooLong); a failed REFRESH comes back as a result with Status "failed", and the
// caller must commit (or run on a pool, i.e. autocommit) for its history row to persist.
func RefreshView(ctx context.Context, q Reader, n Names, name string) (RefreshResult, error) {
	if err := n.validSchema(); err != nil {
		return RefreshResult{}, err
	}
	r, err := CallRefresh(ctx, q, n, name)
	if err != nil {
		return r, fmt.Errorf("refresh %s: %w", name, err)
	}
	return r, nil
}

// TxBeginner is a pool or a connection (*pgxpool.Pool, *pgx.Conn): something CallRefresh can
// open a transaction of its own on.
type TxBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// liftStatementTimeoutSQL lets a refresh run as long as it needs (the caller's context still
// cancels it): a REFRESH may take longer than the runtime role's statement_timeout.
// liftStatementTimeoutSQL lifts statement_timeout for the transaction and returns the
// backend's pid (the server's, also behind a pooler: the transaction pins one server session),
// for CancelOnDone.
var liftStatementTimeoutSQL = mustSQL("lift_statement_timeout", `SELECT pg_catalog.set_config('statement_timeout', '0', true) IS NOT NULL, pg_catalog.pg_backend_pid()`)

// CallRefresh calls <S>.refresh_view(name) and returns the database's error as is. On a pool
// or a connection (TxBeginner) it runs in a READ WRITE transaction of its own with
// statement_timeout lifted, because the runtime role's sessions start read-only with a
// statement timeout (RoleLimits); in a caller's transaction (pgx.Tx) the caller must have
// begun it READ WRITE. n's schema must be valid.
//
// In its own transaction, the end of ctx cancels the refresh with one signal (CancelOnDone,
// through q when q is a pool) and the transaction still commits: refresh_view recorded the
// canceled refresh as failed (57014), and that record is durable.
func CallRefresh(ctx context.Context, q Reader, n Names, name string) (RefreshResult, error) {
	return CallRefreshCancelVia(ctx, q, nil, n, name)
}

// CallRefreshCancelVia is CallRefresh with the sessions that cancel the refresh named: when ctx
// ends, via (a pool of a role that may signal q's backend, such as q's own pool) runs the one
// pg_cancel_backend. A nil via means q itself when q is a pool, and otherwise the protocol
// cancel request (see CancelOnDone). A caller that took q from a pool passes the pool.
func CallRefreshCancelVia(ctx context.Context, q, via Reader, n Names, name string) (RefreshResult, error) {
	var r RefreshResult
	b, ok := q.(TxBeginner)
	if _, isTx := q.(pgx.Tx); !ok || isTx {
		return r, q.QueryRow(ctx, n.RefreshViewSQL(), name).Scan(&r)
	}
	tx, err := b.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		return r, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var lifted bool
	var pid int32
	if err := tx.QueryRow(ctx, liftStatementTimeoutSQL.render(n)).Scan(&lifted, &pid); err != nil {
		return r, err
	}
	// Another session cancels: via's, or the pool's when q is a pool; without one CancelOnDone
	// falls back to the protocol cancel request.
	if p, isPool := q.(*pgxpool.Pool); isPool && via == nil {
		via = p
	}
	stop := CancelOnDone(ctx, via, tx, pid)
	err = tx.QueryRow(context.WithoutCancel(ctx), n.RefreshViewSQL(), name).Scan(&r)
	stop()
	if err != nil {
		return r, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return r, tx.Commit(cctx)
}

// cancelBackendSQL cancels the running statement of backend $1 (a session of the same role).
// pg_cancel_backend signals the backend once; a protocol cancel request (what pgx sends when a
// query's context ends) makes the postmaster signal it twice, process and process group, and
// under load the second signal can arrive after refresh_view has caught the first and
// recorded the failure, rolling the call and the record back.
const cancelBackendSQL = `SELECT pg_catalog.pg_cancel_backend($1)`

// CancelBackend cancels the statement running in backend pid, on q (another session than
// pid's, of the same role or one that may signal it). It reports whether the backend was
// signalled (false: no such backend).
func CancelBackend(ctx context.Context, q Reader, pid int32) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, cancelBackendSQL, pid).Scan(&ok); err != nil {
		return false, fmt.Errorf("cancel backend %d: %w", pid, err)
	}
	return ok, nil
}

// CancelOnDone cancels the statement running in backend pid (tx's) once ctx ends, with one
// signal (CancelBackend on via, another session; nil or failing: tx's protocol cancel request).
// Callers run the statement with context.WithoutCancel(ctx), so pgx sends no cancel request of
// its own. refresh_view catches a cancel and records the refresh as failed, but a second
// signal arriving after that (a protocol cancel request signals the backend twice: process and
// process group) could roll the record back. The returned stop waits for a cancel in
// progress, so the signal never reaches a COMMIT that follows.
func CancelOnDone(ctx context.Context, via Reader, tx pgx.Tx, pid int32) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if via != nil {
			if _, err := CancelBackend(cctx, via, pid); err == nil {
				return
			}
		}
		_ = tx.Conn().PgConn().CancelRequest(cctx)
	}()
	return func() {
		close(done)
		<-finished
	}
}

// runningRefreshesFragment lists the managed views of schema $1 being refreshed right now
// (some transaction holds their refresh lock): columns view_name text, pid int, since
// timestamptz (xact_start; NULL when the caller may not see other roles' activity). Readable
// by the runtime role (pg_locks and pg_stat_activity are public; the registry is granted).
const runningRefreshesFragment = `{{define "running_refreshes"}}
SELECT v.name AS view_name, l.pid, a.xact_start AS since
  FROM {{.Views}} v
  JOIN pg_catalog.pg_locks l
    ON l.locktype = 'advisory'
   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
   AND l.classid = {{template "refresh_lock_key1" "$1::text"}}::oid
   AND l.objid = {{template "refresh_lock_key2" "v.name"}}::oid
   AND l.objsubid = 2
   AND l.granted
  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
 ORDER BY v.name{{end}}`

var runningRefreshesSQL = mustSQL("running_refreshes_now", `{{template "running_refreshes" .}}`)

// RunningRefresh is one view being refreshed now.
type RunningRefresh struct {
	View  string
	PID   int32
	Since *time.Time
}

// RunningRefreshes returns the views being refreshed now, by name.
func RunningRefreshes(ctx context.Context, q Reader, n Names) (map[string]RunningRefresh, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, runningRefreshesSQL.render(n), n.Schema)
	if err != nil {
		return nil, fmt.Errorf("list running refreshes: %w", err)
	}
	defer rows.Close()
	out := map[string]RunningRefresh{}
	for rows.Next() {
		var r RunningRefresh
		if err := rows.Scan(&r.View, &r.PID, &r.Since); err != nil {
			return nil, fmt.Errorf("list running refreshes: %w", err)
		}
		out[r.View] = r
	}
	return out, rows.Err()
}
