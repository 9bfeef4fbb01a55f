package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/refresh"
)

// Values of [ReadInfo.ServedBy].
const (
	ServedByReplica = "replica"
	ServedByPrimary = "primary"
)

// ReplicaRetryAfter is how long a replica that could not be reached (or was not in recovery)
// is skipped before the read tools try it again.
const ReplicaRetryAfter = 5 * time.Second

// ReadInfo says which server answered a read tool (list_views, describe_view, query_view,
// get_lineage). It is filled only when [RuntimeConfig.Replicas] is set; without replicas
// every field is empty and omitted from the result.
type ReadInfo struct {
	// ServedBy is "replica" or "primary" (the primary answers when no replica could).
	ServedBy string `json:"served_by,omitempty"`
	// Server is the host:port that answered.
	Server string `json:"server,omitempty"`
	// ReplicaLagMs is set when the replica has received WAL it has not replayed yet: the time
	// since the last transaction it replayed committed on the primary. The replica's data is
	// that old; a refresh that finished on the primary since then is not visible yet.
	ReplicaLagMs int64 `json:"replica_lag_ms,omitempty"`
	// ReadNote explains a fallback to the primary, or a replica that is not streaming.
	ReadNote string `json:"read_note,omitempty"`
}

func (r *ReadInfo) setReadInfo(ri ReadInfo) { *r = ri }

// readOutput is an output type that embeds ReadInfo.
type readOutput[Out any] interface {
	*Out
	setReadInfo(ReadInfo)
}

// replicaProbeSQL runs on a replica before each read: is it (still) a hot standby, has it
// received WAL it has not replayed (then how old is its last replayed commit), and is its
// WAL receiver running. Any role may call these functions and read pg_stat_wal_receiver's
// pid (the other columns need pg_read_all_stats).
//
// Why not `now() - pg_last_xact_replay_timestamp()` alone: it grows while the primary is
// idle although the replica is fully caught up. Comparing with the primary's current LSN
// would cost a round trip to the primary on every read, which replicas exist to avoid.
// receive LSN > replay LSN is free and catches what matters here (a refresh that committed on
// the primary and is not replayed yet); WAL still in flight on the network is not counted.
const replicaProbeSQL = `
SELECT pg_catalog.pg_is_in_recovery(),
       coalesce(pg_catalog.pg_last_wal_receive_lsn() > pg_catalog.pg_last_wal_replay_lsn(), false),
       coalesce((extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp()) * 1000)::int8, 0),
       EXISTS (SELECT 1 FROM pg_catalog.pg_stat_wal_receiver),
       pg_catalog.pg_last_xact_replay_timestamp()`

// replicaSet routes the read tools to the replicas, round-robin, skipping those that are
// down, and falls back to the primary.
type replicaSet struct {
	primary  *runtimeTools
	server   string // the primary's host:port
	replicas []*replica
	next     atomic.Uint32
}

type replica struct {
	tools  *runtimeTools // the runtime tools bound to the replica's pool
	server string
	verify func(context.Context, *pgxpool.Pool) error

	mu        sync.Mutex
	verified  bool
	refused   string // permanent: the replica failed verify
	downUntil time.Time
}

func newReplicaSet(primary *runtimeTools) *replicaSet {
	rs := &replicaSet{primary: primary, server: poolServer(primary.cfg.Pool)}
	for _, p := range primary.cfg.Replicas {
		cfg := primary.cfg
		cfg.Pool, cfg.Replicas = p, nil
		rs.replicas = append(rs.replicas, &replica{
			tools: &runtimeTools{cfg: cfg, refresher: &refresh.Client{DB: p, Schema: cfg.Schema}, names: primary.names, guards: primary.guards, declared: primary.declared,
				execOpts: execOptions{prepare: canPrepare(p), encode: true, mark: primary.execOpts.mark}},
			server: poolServer(p),
			verify: primary.cfg.VerifyReplica,
		})
	}
	return rs
}

func poolServer(p *pgxpool.Pool) string {
	cc := p.Config().ConnConfig
	return net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
}

// routed runs a read tool on a replica when there is one and reports which server answered.
// A replica that cannot be reached, is no longer in recovery, or cancels the read because of
// a recovery conflict is skipped (the read is retried on the next one, then on the primary).
// Errors caused by the request itself (syntax, privileges, timeouts) are returned as they are.
func routed[In, Out any, PO readOutput[Out]](rs *replicaSet, h func(*runtimeTools, context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	if len(rs.replicas) == 0 {
		return func(ctx context.Context, in In) (Out, error) { return h(rs.primary, ctx, in) }
	}
	return func(ctx context.Context, in In) (Out, error) {
		var skipped []string
		n := len(rs.replicas)
		first := int(rs.next.Add(1) - 1)
		for i := range n {
			r := rs.replicas[(first+i)%n]
			info, err := r.probe(ctx)
			if err != nil {
				if ctx.Err() != nil {
					var zero Out
					return zero, err
				}
				skipped = append(skipped, err.Error())
				continue
			}
			out, err := h(r.tools, ctx, in)
			if err != nil && ctx.Err() == nil && replicaFailure(err) {
				skipped = append(skipped, fmt.Sprintf("replica %s failed the read (%s)", r.server, AsToolError(err).ErrorType))
				if replicaDown(err) {
					r.markDown()
				}
				continue
			}
			if err == nil {
				PO(&out).setReadInfo(info)
			}
			return out, err
		}
		out, err := h(rs.primary, ctx, in)
		if err == nil {
			PO(&out).setReadInfo(ReadInfo{ServedBy: ServedByPrimary, Server: rs.server,
				ReadNote: "no replica answered, read from the primary: " + strings.Join(skipped, "; ")})
		}
		return out, err
	}
}

// replicaFailure reports whether err is the replica's fault rather than the request's: it
// is down (replicaDown), or canceled the read because of a conflict with recovery (SQLSTATE
// 40001 on a standby: replay needed a lock or row versions the read was using).
func replicaFailure(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "40001" {
		return true
	}
	return replicaDown(err)
}

// replicaDown reports whether the replica cannot serve reads now: it cannot be reached, is
// shutting down or starting up, or the connection broke mid-read.
func replicaDown(err error) bool {
	return AsToolError(err).ErrorType == ErrUnavailable || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// probe checks the replica before a read and measures its lag. An error says why the replica
// is skipped, in words for the agent.
func (r *replica) probe(ctx context.Context) (ReadInfo, error) {
	r.mu.Lock()
	refused, down, verified := r.refused, time.Now().Before(r.downUntil), r.verified
	r.mu.Unlock()
	switch {
	case refused != "":
		return ReadInfo{}, errors.New(refused)
	case down:
		return ReadInfo{}, fmt.Errorf("replica %s is unavailable (retried after %s)", r.server, ReplicaRetryAfter)
	}
	pool := r.tools.cfg.Pool
	if !verified && r.verify != nil {
		if err := r.verify(ctx, pool); err != nil {
			if ctx.Err() != nil || AsToolError(err).ErrorType == ErrUnavailable {
				r.markDown()
				return ReadInfo{}, fmt.Errorf("replica %s is unavailable", r.server)
			}
			r.mu.Lock()
			r.refused = fmt.Sprintf("replica %s is not used: its role failed the runtime role check (ask the operator to run `agent-mv doctor` on it)", r.server)
			r.mu.Unlock()
			return ReadInfo{}, errors.New(r.refused)
		}
		r.mu.Lock()
		r.verified = true
		r.mu.Unlock()
	}
	var inRecovery, behind, streaming bool
	var lagMs int64
	var replayedAt *time.Time
	if err := pool.QueryRow(ctx, replicaProbeSQL).Scan(&inRecovery, &behind, &lagMs, &streaming, &replayedAt); err != nil {
		r.markDown()
		return ReadInfo{}, fmt.Errorf("replica %s is unavailable", r.server)
	}
	if !inRecovery {
		r.markDown()
		return ReadInfo{}, fmt.Errorf("replica %s is not in recovery (promoted?), so it no longer follows the primary", r.server)
	}
	info := ReadInfo{ServedBy: ServedByReplica, Server: r.server}
	if behind {
		info.ReplicaLagMs = max(lagMs, 1)
	}
	if !streaming {
		info.ReadNote = "the replica is not streaming from the primary; its data may be older than the primary's"
		if replayedAt != nil {
			info.ReadNote += " (last replayed commit " + replayedAt.UTC().Format(time.RFC3339) + ")"
		}
	}
	return info, nil
}

func (r *replica) markDown() {
	r.mu.Lock()
	r.downUntil = time.Now().Add(ReplicaRetryAfter)
	r.mu.Unlock()
}
