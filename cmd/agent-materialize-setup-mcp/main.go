package main

import (
	"context"
	"fmt"
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
		fmt.Fprintln(os.Stderr, "agent-materialize-setup-mcp: "+agentmv.RedactText(err.Error()))
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	p, err := agentmv.Open(ctx, agentmv.Options{})
	if err != nil {
		return err
	}
	defer p.Close()
	if p.Settings().DatabaseURL == "" {
		cwd, _ := os.Getwd()
		return fmt.Errorf("DATABASE_URL is required for setup-mcp. Searched .env from cwd='%s'; either set DATABASE_URL in the environment that launches this MCP server, or ensure the server runs from a directory under one containing a .env file.", cwd)
	}
	reg, err := p.SetupTools(ctx)
	if err != nil {
		return err
	}
	server := tools.NewServer(tools.SetupServerName, agentmv.Version(), reg)
	return tools.ServeStdio(ctx, server)
}
