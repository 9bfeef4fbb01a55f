package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/tools"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent-materialize-runtime-mcp: "+agentmv.RedactText(err.Error()))
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	// The same resolution as `agent-mv mcp runtime`: flag > environment > .env >
	// materialize.yaml (optional here) > default.
	s, err := agentmv.RuntimeSettings(agentmv.Options{Logger: stderrLogger()})
	if errors.Is(err, agentmv.ErrNoRuntimeURL) {
		return errors.New("AGENT_MV_RUNTIME_URL is required for runtime-mcp; put the runtime role's connection string in .env or the environment (see .env.example)")
	}
	if err != nil {
		return err
	}
	rt, err := agentmv.OpenRuntime(ctx, s.RuntimeURL, agentmv.RuntimeOptions{Schema: s.TargetSchema, ReplicaURLs: s.RuntimeReplicaURLs})
	if err != nil {
		return err
	}
	defer rt.Close()
	server := tools.NewServer(tools.RuntimeServerName, agentmv.Version(), rt.Tools())
	return tools.ServeStdio(ctx, server)
}

// stderrLogger prints warnings (unknown keys in materialize.yaml) to stderr, as agent-mv does.
func stderrLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
