package main

import (
	"context"
	"fmt"
	"os"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/cmd/internal/mcpmain"
	"github.com/agentmv/agentmv/tools"
)

func main() { mcpmain.Serve("agent-materialize-setup-mcp", tools.SetupServerName, open) }

// open loads the project the same way as `agent-mv mcp setup` (agentmv.Open) and builds the
// setup tools on DATABASE_URL.
func open(ctx context.Context) (*tools.Registry, func(), error) {
	p, err := agentmv.Open(ctx, agentmv.Options{Logger: mcpmain.Logger()})
	if err != nil {
		return nil, nil, err
	}
	if p.Settings().DatabaseURL == "" {
		p.Close()
		cwd, _ := os.Getwd()
		return nil, nil, fmt.Errorf("DATABASE_URL is required for setup-mcp. Searched .env from cwd='%s'; either set DATABASE_URL in the environment that launches this MCP server, or ensure the server runs from a directory under one containing a .env file.", cwd)
	}
	reg, err := p.SetupTools(ctx)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return reg, p.Close, nil
}
