package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
)

// ClockIn is the input of the host's own tool.
type ClockIn struct{}

// ClockOut is the host tool's result.
type ClockOut struct {
	Now string `json:"now"`
}

// newServer is the whole wiring: the host's server, its own tool, agentmv's runtime tools.
func newServer(rt *agentmv.Runtime) *mcp.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "my-host", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "clock", Description: "The host's current time."},
		func(context.Context, *mcp.CallToolRequest, ClockIn) (*mcp.CallToolResult, ClockOut, error) {
			return nil, ClockOut{Now: time.Now().UTC().Format(time.RFC3339)}, nil
		})
	rt.Tools().Mount(server) // list_views, describe_view, query_view, refresh_view, get_lineage
	return server
}

func main() {
	ctx := context.Background()
	rt, err := agentmv.OpenRuntime(ctx, os.Getenv(agentmv.EnvRuntimeURL), agentmv.RuntimeOptions{Schema: os.Getenv(agentmv.EnvTargetSchema)})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	if err := newServer(rt).Run(ctx, &mcp.StdioTransport{}); err != nil {
		log.Print(err)
	}
}
