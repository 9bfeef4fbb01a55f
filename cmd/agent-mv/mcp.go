package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/cmd/internal/mcpmain"
	"github.com/agentmv/agentmv/tools"
)

// newMcpCmd builds `agent-mv mcp runtime|setup`: the MCP servers over stdio (default) or
// streamable HTTP (--http ADDR).
func newMcpCmd(o *rootOptions) *cobra.Command {
	var httpAddr, tokenEnv, agent, auditPath string
	var pooler bool
	var tf telemetryFlags
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve the MCP tools: runtime (view-only, every day) or setup (privileged, once)",
		Long: `Serve agentmv's MCP tools over stdio (the default, for agent clients that spawn servers)
or over streamable HTTP with --http ADDR (loopback by default; any other address needs a bearer
token read from the environment variable named by --token-env).`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&httpAddr, "http", "", "serve streamable HTTP on ADDR (e.g. 127.0.0.1:8765) instead of stdio")
	runtimeFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&agent, "agent", "", "serve as this agent of materialize.yaml (its own role and views) instead of the runtime role")
		c.Flags().BoolVar(&pooler, "pooler", false, "AGENT_MV_RUNTIME_URL goes through a transaction-pooling PgBouncer: use unnamed statements")
		tf.register(c.Flags())
	}
	pf.StringVar(&auditPath, "audit-log", "", "append one JSON line per tool call to FILE (- for stderr; reopened on SIGHUP for logrotate)")
	pf.StringVar(&tokenEnv, "token-env", "", "name of the environment variable holding the bearer token clients must send (required off loopback)")

	runtimeCmd := &cobra.Command{
		Use:   "runtime",
		Short: "Serve list_views, describe_view, query_view, refresh_view, get_lineage as the runtime role",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.runtimeSettings()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			tel, err := openTelemetry(cmd, tf, httpAddr != "")
			if err != nil {
				return err
			}
			defer tel.Close()
			ropts := tel.runtimeOptions(runtimeOptions(s, pooler))
			audit, err := openAudit(cmd, auditPath)
			if err != nil {
				return err
			}
			if audit != nil {
				defer audit.Close()
			}
			tel.watchAudit(audit)
			var rt *agentmv.Runtime
			if agent != "" {
				rt, err = agentmv.OpenAgentRuntime(ctx, s, agent, ropts)
			} else {
				rt, err = agentmv.OpenRuntime(ctx, s.RuntimeURL, ropts)
			}
			if err != nil {
				return err
			}
			defer rt.Close()
			watch, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go rt.Tools().WatchResources(watch, 0) // resources/list_changed after an apply
			go func() {
				if err := tel.serveSeparate(watch, cmd, tf); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "agentmv: metrics listener:", err)
				}
			}()
			if audit != nil {
				rt.Tools().Observe(audit.Observer())
			}
			// Tools added, changed or removed in materialize.yaml reach connected clients.
			go rt.WatchTools(ctx, o.configPath, 0, stderrLogger(cmd))
			// Over HTTP, without --agent, every agent with a token is served too: its token
			// selects its own server, on its own role.
			var agents []tools.HTTPAgent
			if httpAddr != "" && agent == "" {
				var closeAgents func()
				agents, closeAgents, err = openAgentServers(watch, s, ropts, o.configPath, stderrLogger(cmd), auditObservers(audit)...)
				if err != nil {
					return err
				}
				defer closeAgents()
			}
			if agent != "" && httpAddr != "" && tokenEnv == "" && s.AgentTokens[agent] != "" {
				agents = append(agents, tools.HTTPAgent{Name: agent, Token: s.AgentTokens[agent],
					Server: tools.NewServer(tools.RuntimeServerName, versionString(), rt.Tools())})
				return serveMCP(cmd, nil, httpAddr, "", agents, tel.mcpHandler(tf))
			}
			return serveMCP(cmd, tools.NewServer(tools.RuntimeServerName, versionString(), rt.Tools()), httpAddr, tokenEnv, agents, tel.mcpHandler(tf))
		},
	}
	setupCmd := &cobra.Command{
		Use:   "setup",
		Short: "Serve the onboarding tools (list_schemas … finalize_config) on DATABASE_URL",
		Args:  cobra.NoArgs,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, _ []string) error {
			reg, err := p.SetupTools(cmd.Context())
			if err != nil {
				return err
			}
			return serveMCP(cmd, tools.NewServer(tools.SetupServerName, versionString(), reg), httpAddr, tokenEnv, nil, nil)
		}),
	}
	runtimeFlags(runtimeCmd)
	cmd.AddCommand(runtimeCmd, setupCmd)
	return cmd
}

// runtimeSettings resolves the settings of a runtime host through agentmv.RuntimeSettings,
// the same function agent-materialize-runtime-mcp uses: materialize.yaml may be absent.
func (o *rootOptions) runtimeSettings() (agentmv.Settings, error) {
	return agentmv.RuntimeSettings(agentmv.Options{ConfigPath: o.configPath, Overrides: o.overrides()})
}

// runtimeOptions are the options of every runtime the CLI opens (the runtime role's and the
// agents'), from the resolved settings.
func runtimeOptions(s agentmv.Settings, pooler bool) agentmv.RuntimeOptions {
	return agentmv.RuntimeOptions{Schema: s.TargetSchema, ReplicaURLs: s.RuntimeReplicaURLs, Pooler: pooler, Tools: s.Tools}
}

// openAgentServers opens, for every agent of materialize.yaml whose bearer token is set
// (Settings.AgentTokens, from its token_env), the runtime tools on the agent's own role
// (agentmv.OpenAgentRuntime) and returns them as HTTP agents: the token a request carries
// selects that agent's server. `mcp runtime --http` and `serve` both serve agents through
// it. Each agent's tools follow materialize.yaml (WatchTools) and its resources follow apply
// (WatchResources) until ctx ends; observers (the audit log, metrics) see every call.
// closeAll stops the watchers and releases the agents' pools.
func openAgentServers(ctx context.Context, s agentmv.Settings, ropts agentmv.RuntimeOptions, configPath string,
	logger *slog.Logger, observers ...tools.Observer) (agents []tools.HTTPAgent, closeAll func(), err error) {
	ctx, stop := context.WithCancel(ctx)
	var opened []*agentmv.Runtime
	closeAll = func() {
		stop() // the watchers first, then the pools they read
		for _, rt := range opened {
			rt.Close()
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.AgentTokens)) {
		rt, err := agentmv.OpenAgentRuntime(ctx, s, name, ropts)
		if err != nil {
			closeAll()
			return nil, func() {}, err
		}
		opened = append(opened, rt)
		rt.Tools().Observe(observers...)
		go rt.Tools().WatchResources(ctx, 0)
		go rt.WatchTools(ctx, configPath, 0, logger.With("agent", name))
		agents = append(agents, tools.HTTPAgent{Name: name, Token: s.AgentTokens[name],
			Server: tools.NewServer(tools.RuntimeServerName, versionString(), rt.Tools())})
	}
	return agents, closeAll, nil
}

// auditObservers is the audit log's observer, or none.
func auditObservers(audit *tools.AuditLog) []tools.Observer {
	if audit == nil {
		return nil
	}
	return []tools.Observer{audit.Observer()}
}

// serveMCP runs server on stdio, or on HTTP when httpAddr is set (with metrics, when not nil,
// at GET /metrics behind the bearer token), until the client goes away or the command's
// context ends.
func serveMCP(cmd *cobra.Command, server *mcp.Server, httpAddr, tokenEnv string, agents []tools.HTTPAgent, metrics http.Handler) error {
	ctx := cmd.Context()
	if httpAddr == "" {
		if tokenEnv != "" {
			return usageError{fmt.Errorf("--token-env needs --http")}
		}
		mcpmain.StdioProcs()
		return tools.ServeStdio(ctx, server)
	}
	srv, err := newHTTPMCP(cmd, server, tools.HTTPOptions{Addr: httpAddr, Agents: agents, Metrics: metrics}, tokenEnv)
	if err != nil {
		return err
	}
	return srv.Serve(ctx, announce(cmd))
}

// newHTTPMCP builds the streamable HTTP server of `mcp ... --http` and `serve`: the bearer
// token read from the variable named by --token-env, rejected requests logged on stderr.
func newHTTPMCP(cmd *cobra.Command, server *mcp.Server, opts tools.HTTPOptions, tokenEnv string) (*tools.HTTPServer, error) {
	if tokenEnv != "" {
		opts.Token = os.Getenv(tokenEnv)
		if opts.Token == "" {
			return nil, fmt.Errorf("--token-env %s: the variable is empty or unset; export the token first", tokenEnv)
		}
	}
	opts.Logger = stderrLogger(cmd)
	return tools.NewHTTPServer(server, opts)
}

// stderrLogger logs warnings and errors on the command's stderr.
func stderrLogger(cmd *cobra.Command) *slog.Logger {
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// announce prints where the HTTP server listens (tests and scripts wait for this line).
func announce(cmd *cobra.Command) func(addr string) {
	return func(addr string) {
		fmt.Fprintf(cmd.ErrOrStderr(), "serving MCP on http://%s/mcp\n", addr)
	}
}

// openAudit opens the audit log named by --audit-log ("" none, "-" stderr), reopening the file
// on SIGHUP (logrotate) until the command ends.
func openAudit(cmd *cobra.Command, path string) (*tools.AuditLog, error) {
	switch path {
	case "":
		return nil, nil
	case "-":
		return tools.NewAuditWriter(cmd.ErrOrStderr()), nil
	}
	a, err := tools.OpenAuditLog(path, tools.AuditOptions{ErrorLog: cmd.ErrOrStderr()})
	if err != nil {
		return nil, err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-cmd.Context().Done():
				return
			case <-hup:
				if err := a.Reopen(); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "agentmv:", err)
				}
			}
		}
	}()
	return a, nil
}
