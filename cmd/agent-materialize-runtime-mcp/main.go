package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/cmd/internal/mcpmain"
	"github.com/agentmv/agentmv/internal/otelenv"
	"github.com/agentmv/agentmv/tools"
)

func main() {
	fs := flag.NewFlagSet("agent-materialize-runtime-mcp", flag.ExitOnError)
	agent := fs.String("agent", "", "serve as this agent of materialize.yaml (its own role, views and tools) instead of the runtime role")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "agent-materialize-runtime-mcp: unexpected argument %q (the only flag is --agent NAME)\n", fs.Arg(0))
		os.Exit(2)
	}
	mcpmain.Serve("agent-materialize-runtime-mcp", tools.RuntimeServerName, func(ctx context.Context) (*tools.Registry, func(), error) {
		return open(ctx, *agent)
	})
}

// open resolves the settings the same way as `agent-mv mcp runtime` (flag > environment > .env
// > materialize.yaml, optional here > default) and opens the runtime tools, as agent's role
// when agent is set (`--agent NAME`, like `agent-mv mcp runtime --agent`).
func open(ctx context.Context, agent string) (*tools.Registry, func(), error) {
	s, err := agentmv.RuntimeSettings(agentmv.Options{Logger: mcpmain.Logger()})
	if errors.Is(err, agentmv.ErrNoRuntimeURL) {
		return nil, nil, errors.New("AGENT_MV_RUNTIME_URL is required for runtime-mcp; put the runtime role's connection string in .env or the environment (see .env.example)")
	}
	if err != nil {
		return nil, nil, err
	}
	// Traces when the OTEL_* variables ask for them (spans never go to stdout).
	tp, err := otelenv.TracerProvider(ctx, "agent-materialize-runtime-mcp", "", os.Stderr)
	if err != nil {
		return nil, nil, err
	}
	ropts := agentmv.RuntimeOptions{Schema: s.TargetSchema, ReplicaURLs: s.RuntimeReplicaURLs, Tools: s.Tools}
	flush := func() {}
	if tp != nil {
		ropts.TracerProvider = tp
		flush = func() {
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = tp.Shutdown(fctx)
		}
	}
	var rt *agentmv.Runtime
	if agent != "" {
		rt, err = agentmv.OpenAgentRuntime(ctx, s, agent, ropts)
	} else {
		rt, err = agentmv.OpenRuntime(ctx, s.RuntimeURL, ropts)
	}
	if err != nil {
		flush()
		return nil, nil, err
	}
	// Tools added, changed or removed in materialize.yaml reach connected clients.
	watch, stop := context.WithCancel(ctx)
	go rt.WatchTools(watch, "", 0, mcpmain.Logger())
	return rt.Tools(), func() { stop(); rt.Close(); flush() }, nil
}
