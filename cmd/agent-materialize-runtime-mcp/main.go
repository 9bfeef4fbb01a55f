package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/joho/godotenv"

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
	_ = godotenv.Load(".env") // a missing .env is fine; existing variables win
	url := os.Getenv(agentmv.EnvRuntimeURL)
	if url == "" {
		return errors.New("AGENT_MV_RUNTIME_URL is required for runtime-mcp")
	}
	// The replica list and the rest resolve the same way as everywhere (env wins over .env).
	s, err := agentmv.ResolveSettings(agentmv.Settings{RuntimeURL: url}, nil, "", nil)
	if err != nil {
		return err
	}
	rt, err := agentmv.OpenRuntime(ctx, url, agentmv.RuntimeOptions{Schema: s.TargetSchema, ReplicaURLs: s.RuntimeReplicaURLs})
	if err != nil {
		return err
	}
	defer rt.Close()
	server := tools.NewServer(tools.RuntimeServerName, agentmv.Version(), rt.Tools())
	return tools.ServeStdio(ctx, server)
}
