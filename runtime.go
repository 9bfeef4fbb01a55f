package agentmv

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

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
}

// Runtime is what an agent-facing host needs: one pool on the runtime role and the runtime
// tools. It never holds the admin DSN. Close releases the pool.
type Runtime struct {
	pool  *pgxpool.Pool
	tools *tools.Registry
}

// OpenRuntime connects to runtimeURL (the runtime role's DSN, AGENT_MV_RUNTIME_URL), proves
// the role is a safe runtime role (unless opts.SkipRoleCheck) and builds the runtime tools:
//
//	rt, err := agentmv.OpenRuntime(ctx, os.Getenv("AGENT_MV_RUNTIME_URL"), agentmv.RuntimeOptions{})
//	...
//	rt.Tools().Mount(server)
func OpenRuntime(ctx context.Context, runtimeURL string, opts RuntimeOptions) (*Runtime, error) {
	if runtimeURL == "" {
		return nil, ErrNoRuntimeURL
	}
	if opts.Schema == "" {
		opts.Schema = DefaultTargetSchema
	}
	if err := ValidateIdentifier("target schema", opts.Schema); err != nil {
		return nil, err
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 8
	}
	pool, err := openPool(ctx, runtimeURL, EnvRuntimeURL, opts.MaxConns)
	if err != nil {
		return nil, err
	}
	reg, err := runtimeTools(ctx, pool, opts.Schema, opts.Limits, !opts.SkipRoleCheck)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Runtime{pool: pool, tools: reg}, nil
}

func runtimeTools(ctx context.Context, pool *pgxpool.Pool, schema string, limits tools.Limits, check bool) (*tools.Registry, error) {
	if check {
		if err := tools.CheckRuntimeRole(ctx, pool, schema); err != nil {
			return nil, err
		}
	}
	return tools.RuntimeTools(tools.RuntimeConfig{Pool: pool, Schema: schema, Limits: limits})
}

// Tools returns the runtime tools (list_views, describe_view, query_view, refresh_view,
// get_lineage). Mount them on a go-sdk server, or Select some first.
func (r *Runtime) Tools() *tools.Registry { return r.tools }

// Pool is the runtime role's pool, for hosts that want to share it.
func (r *Runtime) Pool() *pgxpool.Pool { return r.pool }

// Close releases the pool.
func (r *Runtime) Close() { r.pool.Close() }

// RuntimeTools returns the runtime tools on the project's runtime pool (AGENT_MV_RUNTIME_URL),
// after proving the role is a safe runtime role (tools.CheckRuntimeRole).
func (p *Project) RuntimeTools(ctx context.Context) (*tools.Registry, error) {
	pool, err := p.RuntimePool(ctx)
	if err != nil {
		return nil, err
	}
	reg, err := runtimeTools(ctx, pool, p.settings.TargetSchema, tools.Limits{}, true)
	if err != nil {
		return nil, fmt.Errorf("runtime tools: %w", err)
	}
	return reg, nil
}
