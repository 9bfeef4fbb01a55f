package agentmv

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/tools"
)

// RuntimeOptions configure OpenRuntime.
type RuntimeOptions struct {
	// Schema is the target schema (default agent_mv).
	Schema string
	// Limits bound query_view (zero fields take tools' defaults: 1000 rows, 1 MiB, 5 s).
	Limits tools.Limits
	// MaxConns bounds the pool (default 8).
	MaxConns int32
	// SkipRoleCheck skips the startup proof that the role can read only managed views and
	// write nothing (tools.CheckRuntimeRole). Leave it false in production.
	SkipRoleCheck bool
	// ReplicaURLs are the runtime role's DSNs on read-only hot standbys of the primary
	// (Settings.RuntimeReplicaURLs, AGENT_MV_RUNTIME_REPLICA_URL). list_views, describe_view,
	// query_view and get_lineage read from them, round-robin, and report which server answered
	// and the replica's replay lag (tools.ReadInfo); refresh_view always runs on the primary.
	// When no replica answers, reads fall back to the primary with a note.
	ReplicaURLs []string
	// Pooler says the DSNs point at a transaction-pooling PgBouncer (or another pooler that
	// does not carry named prepared statements across transactions). The pools then send
	// unnamed statements (pgx QueryExecModeExec) unless the DSN chose a mode with
	// default_query_exec_mode. Every runtime tool keeps its settings transaction-local, so
	// nothing else is needed.
	Pooler bool
	// Tools are the declared tools to serve next to the built-ins (Settings.Tools, from
	// materialize.yaml's tools list).
	Tools []tools.ToolSpec
	// Builtins, when not nil, are the built-in tools to serve (tools.RuntimeToolNames); nil
	// serves all five. OpenAgentRuntime sets it (and Tools) from the agent's selection.
	Builtins []string
	// Metrics, when set, counts every tool call of the runtime (tools.Metrics.Observer on its
	// registry) and reads its pools' connections and its views' data age at scrape time.
	// Several runtimes (agents) may share one Metrics; the pool label is the agent's name
	// ("runtime" for the runtime role). Close removes the pools again.
	Metrics *tools.Metrics
	// TracerProvider, when set, traces every tool call (a span per call) with the database
	// work as child spans (tools.QueryTracer on the pools). Nil: no tracing, no cost.
	TracerProvider trace.TracerProvider
}

// Runtime is what an agent-facing host needs: one pool on the runtime role and the runtime
// tools. It never holds the admin DSN. Close releases the pool.
type Runtime struct {
	schema   string
	pool     *pgxpool.Pool
	replicas []*pgxpool.Pool
	tools    *tools.Registry
	unwatch  []func() // removes the pools from RuntimeOptions.Metrics
	agent    string   // the agent served ("" for the runtime role): WatchTools follows its selection
}

// OpenRuntime connects to runtimeURL (the runtime role's DSN, AGENT_MV_RUNTIME_URL), proves
// the role is a safe runtime role (unless opts.SkipRoleCheck) and builds the runtime tools.
// With opts.ReplicaURLs the read tools read from those standbys (each role-checked too: a
// replica that is down at start is checked before its first read instead); with opts.Pooler
// the pools work through a transaction-pooling PgBouncer:
//
//	rt, err := agentmv.OpenRuntime(ctx, os.Getenv("AGENT_MV_RUNTIME_URL"), agentmv.RuntimeOptions{})
//	...
//	rt.Tools().Mount(server)
func OpenRuntime(ctx context.Context, runtimeURL string, opts RuntimeOptions) (*Runtime, error) {
	return openRuntime(ctx, runtimeURL, opts, "")
}

// openRuntime is OpenRuntime for agent ("" for the runtime role).
func openRuntime(ctx context.Context, runtimeURL string, opts RuntimeOptions, agent string) (*Runtime, error) {
	if runtimeURL == "" {
		return nil, ErrNoRuntimeURL
	}
	if opts.Schema == "" {
		opts.Schema = DefaultTargetSchema
	}
	if err := boundary.ValidateSchemaName(opts.Schema); err != nil {
		return nil, err
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 8
	}
	var tracer pgx.QueryTracer
	if opts.TracerProvider != nil {
		tracer = tools.NewQueryTracer(opts.TracerProvider)
	}
	pool, err := openPool(ctx, runtimeURL, EnvRuntimeURL, opts.MaxConns, opts.Pooler, tracer)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{schema: opts.Schema, pool: pool, agent: agent}
	// Postgres unreachable at start-up: start anyway and check the role before the first call
	// (each call reports "unavailable" until then), as the server does when Postgres goes
	// away mid-session. An unsafe role still stops the start-up.
	primaryDown := false
	if !opts.SkipRoleCheck {
		if err := tools.CheckRuntimeRole(ctx, pool, opts.Schema); err != nil {
			if !isConnectFailure(err) {
				rt.Close()
				return nil, err
			}
			primaryDown = true
		}
	}
	for i, dsn := range opts.ReplicaURLs {
		rp, err := openPool(ctx, dsn, fmt.Sprintf("%s (replica %d)", EnvRuntimeReplicaURL, i+1), opts.MaxConns, opts.Pooler, tracer)
		if err != nil {
			rt.Close()
			return nil, err
		}
		rt.replicas = append(rt.replicas, rp)
		if opts.SkipRoleCheck {
			continue
		}
		// A replica that is down now is checked before its first read instead; a replica whose
		// role is unsafe stops the start-up like an unsafe primary role.
		if err := tools.CheckRuntimeRole(ctx, rp, opts.Schema); err != nil && tools.ErrorTypeOf(err) != tools.ErrUnavailable {
			rt.Close()
			return nil, fmt.Errorf("replica %d (%s): %w", i+1, RedactDSN(dsn), err)
		}
	}
	cfg := tools.RuntimeConfig{Pool: pool, Schema: opts.Schema, Limits: opts.Limits, Replicas: rt.replicas, Tools: opts.Tools, Builtins: opts.Builtins}
	if !opts.SkipRoleCheck {
		cfg.VerifyReplica = func(ctx context.Context, p *pgxpool.Pool) error {
			return tools.CheckRuntimeRole(ctx, p, opts.Schema)
		}
		if primaryDown {
			cfg.VerifyPrimary = cfg.VerifyReplica
		}
	}
	if rt.tools, err = tools.RuntimeTools(cfg); err != nil {
		rt.Close()
		return nil, err
	}
	if agent != "" {
		rt.tools.SetAgent(agent)
	}
	rt.tools.SetTracerProvider(opts.TracerProvider)
	if m := opts.Metrics; m != nil {
		rt.tools.Observe(m.Observer())
		name := cmp.Or(agent, tools.DefaultAgentName)
		rt.unwatch = append(rt.unwatch, m.AddPool(name, pool, opts.Schema))
		for i, rp := range rt.replicas {
			rt.unwatch = append(rt.unwatch, m.AddPool(fmt.Sprintf("%s/replica%d", name, i+1), rp, ""))
		}
	}
	return rt, nil
}

func runtimeTools(ctx context.Context, pool *pgxpool.Pool, schema string, limits tools.Limits, check bool, declared []tools.ToolSpec) (*tools.Registry, error) {
	if check {
		if err := tools.CheckRuntimeRole(ctx, pool, schema); err != nil {
			return nil, err
		}
	}
	return tools.RuntimeTools(tools.RuntimeConfig{Pool: pool, Schema: schema, Limits: limits, Tools: declared})
}

// Ready reports whether the runtime can serve: the primary answers and agentmv's objects in
// the schema are at the version this agentmv expects (boundary.ExpectedVersion). The error
// says what is wrong and what to do; it never contains the DSN.
func (r *Runtime) Ready(ctx context.Context) error {
	n := boundary.Names{Schema: r.schema}
	v, err := boundary.InstalledVersion(ctx, r.pool, n)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		// Before schema version 8 the runtime role could not read schema_version.
		return fmt.Errorf("schema %s is older than this agentmv expects (version %d): run `agent-mv apply` to upgrade it", r.schema, boundary.ExpectedVersion)
	}
	if err != nil {
		return fmt.Errorf("database not ready: %s", RedactText(err.Error()))
	}
	switch {
	case v == 0:
		return fmt.Errorf("schema %s has no agentmv objects: run `agent-mv apply`", r.schema)
	case v < boundary.ExpectedVersion:
		return fmt.Errorf("schema %s is at version %d, this agentmv expects %d: run `agent-mv apply` to upgrade it", r.schema, v, boundary.ExpectedVersion)
	case v > boundary.ExpectedVersion:
		return fmt.Errorf("schema %s is at version %d, newer than this agentmv (%d): upgrade agentmv", r.schema, v, boundary.ExpectedVersion)
	}
	return nil
}

// Schema is the target schema the runtime serves.
func (r *Runtime) Schema() string { return r.schema }

// Tools returns the runtime tools (list_views, describe_view, query_view, refresh_view,
// get_lineage). Mount them on a go-sdk server, or Select some first.
func (r *Runtime) Tools() *tools.Registry { return r.tools }

// Pool is the runtime role's pool, for hosts that want to share it.
func (r *Runtime) Pool() *pgxpool.Pool { return r.pool }

// Replicas are the pools on the replicas (ReplicaURLs), in order.
func (r *Runtime) Replicas() []*pgxpool.Pool { return r.replicas }

// Close releases the pools.
func (r *Runtime) Close() {
	for _, f := range r.unwatch {
		f()
	}
	r.unwatch = nil
	r.pool.Close()
	for _, p := range r.replicas {
		p.Close()
	}
}

// RuntimeTools returns the runtime tools, with the tools declared in materialize.yaml, on the
// project's runtime pool (AGENT_MV_RUNTIME_URL),
// after proving the role is a safe runtime role (tools.CheckRuntimeRole). It reads from the
// primary only; to read from Settings.RuntimeReplicaURLs use OpenRuntime with ReplicaURLs.
func (p *Project) RuntimeTools(ctx context.Context) (*tools.Registry, error) {
	pool, err := p.RuntimePool(ctx)
	if err != nil {
		return nil, err
	}
	reg, err := runtimeTools(ctx, pool, p.settings.TargetSchema, tools.Limits{}, true, p.cfg.ToolSpecs())
	if err != nil {
		return nil, fmt.Errorf("runtime tools: %w", err)
	}
	return reg, nil
}

// isConnectFailure reports whether err is a failure to reach Postgres (connection refused or
// timed out, the server starting up), not a refused login or an unsafe role, which no retry
// fixes.
func isConnectFailure(err error) bool {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(ce, &pgErr) {
		return pgErr.Code == "57P03" // cannot_connect_now
	}
	return true
}

// OpenAgentRuntime opens the runtime tools as agent's own role (materialize.yaml's agents):
// s.AgentURL(agent) as the DSN, the same checks as OpenRuntime, and the registry named after
// the agent for the audit log (tools.Registry.SetAgent). It serves only the agent's views:
// Postgres hides and refuses the others. When s knows the agent's tool selection
// (Settings.AgentTools, from materialize.yaml), it replaces opts.Tools and opts.Builtins: an
// agent is served exactly its tools.
func OpenAgentRuntime(ctx context.Context, s Settings, agent string, opts RuntimeOptions) (*Runtime, error) {
	dsn, err := s.AgentURL(agent)
	if err != nil {
		return nil, err
	}
	if sel, ok := s.AgentTools[agent]; ok {
		opts.Tools, opts.Builtins = sel.Tools, sel.Builtins
	}
	if opts.Schema == "" {
		opts.Schema = s.TargetSchema
	}
	opts.ReplicaURLs = nil // the replicas' DSNs name the runtime role
	rt, err := openRuntime(ctx, dsn, opts, agent)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", agent, err)
	}
	return rt, nil
}
