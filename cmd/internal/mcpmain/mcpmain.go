package mcpmain

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/connerr"
	"github.com/agentmv/agentmv/tools"
)

// Serve is the whole main of a seed-named stdio server: open builds the tool registry (and the
// function that closes what it opened), then Serve serves it over stdio as serverName until the
// client goes away or SIGINT/SIGTERM arrives. On error it prints "<command>: <error>" to stderr,
// with DSN passwords masked, and exits 1.
func Serve(command, serverName string, open func(ctx context.Context) (*tools.Registry, func(), error)) {
	StdioProcs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := serve(ctx, serverName, open)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, command+": "+agentmv.RedactText(connerr.Text(err)))
		os.Exit(1)
	}
}

func serve(ctx context.Context, serverName string, open func(ctx context.Context) (*tools.Registry, func(), error)) error {
	reg, closeFn, err := open(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go reg.WatchResources(ctx, 0) // resources/list_changed after an apply (runtime tools only)
	return tools.ServeStdio(ctx, tools.NewServer(serverName, agentmv.Version(), reg))
}

// StdioProcs sets GOMAXPROCS to 1 for a process that serves MCP over stdio, unless the
// GOMAXPROCS environment variable is set (then the runtime has already used it). Such a server
// answers one client, and a call spends most of its time waiting for Postgres and the client:
// with one P, a request is read, run and answered on one thread (stdin is read through the
// network poller, see tools.ServeStdio) instead of being handed between threads, each handoff
// a wake-up of an idle CPU. Measured over stdio with the official TypeScript client: a 1-row
// query_view about 9 % faster, 1,000 rows no slower (BENCHMARKS.md, "Issue 20, fifth pass").
// HTTP servers keep the default: they serve many clients at once.
func StdioProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// Logger prints warnings (such as unknown keys in materialize.yaml) to stderr, as agent-mv does.
func Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
