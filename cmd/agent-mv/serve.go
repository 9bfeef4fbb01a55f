package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/refresh"
	"github.com/agentmv/agentmv/scheduler"
	"github.com/agentmv/agentmv/tools"
)

// serveFlags are the flags of `agent-mv serve`.
type serveFlags struct {
	httpAddr, tokenEnv string
	pooler             bool
	noScheduler        bool
	parallel           int
	poll               time.Duration
	shutdown           time.Duration
	verbose            bool
	auditPath          string
	tel                telemetryFlags
}

// newServeCmd builds `agent-mv serve`: the runtime MCP server over streamable HTTP, the
// refresh scheduler, /healthz and /readyz, until SIGTERM or SIGINT.
func newServeCmd(o *rootOptions) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the runtime MCP server over HTTP with the refresh scheduler, /healthz and /readyz",
		Long: `Run the long-lived runtime server: the runtime MCP tools over streamable HTTP (the same
hardening as ` + "`mcp runtime --http`" + `: loopback by default, a bearer token from --token-env
off loopback), a refresh scheduler that keeps every view with a refresh_every fresh, and two
probes that need no token: GET /healthz (the process is alive) and GET /readyz (the database
answers and agentmv's objects are at the expected version).

Agents (materialize.yaml's agents list): every agent whose token_env variable is set is
served on the same endpoint, on its own Postgres role, with its own tools; the bearer token a
request carries says which agent calls (compared in constant time, never logged). --token-env
stays the runtime role's token; with agents and no --token-env, every request needs an agent's
token. A wrong or missing token gets 401.

It needs only AGENT_MV_RUNTIME_URL (and each served agent's password_env). Any number of serve processes may run against one
database: each refresh is claimed under the view's refresh lock, so a view is refreshed once
per interval, not once per process, and a process that dies leaves the work to the others.

SIGTERM or SIGINT stops it: /readyz answers 503, no new refresh starts, HTTP requests and
running refreshes get --shutdown-timeout to finish, then refreshes are canceled (the database
records them as failed and keeps the old contents) and the process exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, o, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.httpAddr, "http", "127.0.0.1:8765", "listen address (any non-loopback address needs --token-env)")
	fl.StringVar(&f.tokenEnv, "token-env", "", "name of the environment variable holding the bearer token clients must send (required off loopback)")
	fl.BoolVar(&f.pooler, "pooler", false, "AGENT_MV_RUNTIME_URL goes through a transaction-pooling PgBouncer: use unnamed statements")
	fl.BoolVar(&f.noScheduler, "no-scheduler", false, "serve the tools and probes only; refresh nothing on a schedule")
	fl.IntVar(&f.parallel, "parallel", scheduler.DefaultParallel, "refreshes this process runs at once")
	fl.DurationVar(&f.poll, "poll", scheduler.DefaultPollInterval, "longest wait between two looks at the views (the scheduler wakes earlier when one is due)")
	fl.DurationVar(&f.shutdown, "shutdown-timeout", scheduler.DefaultShutdownGrace, "on SIGTERM/SIGINT, how long requests and running refreshes may take to finish before they are canceled")
	fl.BoolVar(&f.verbose, "verbose", false, "log every scheduler batch, not only failures")
	fl.StringVar(&f.auditPath, "audit-log", "", "append one JSON line per tool call to FILE (- for stderr; reopened on SIGHUP for logrotate)")
	f.tel.register(fl)
	return cmd
}

func runServe(cmd *cobra.Command, o *rootOptions, f *serveFlags) error {
	if f.parallel < 1 {
		return usageError{fmt.Errorf("--parallel must be at least 1, got %d", f.parallel)}
	}
	if f.shutdown <= 0 || f.poll <= 0 {
		return usageError{fmt.Errorf("--shutdown-timeout and --poll must be positive")}
	}
	tel, err := openTelemetry(cmd, f.tel, true)
	if err != nil {
		return err
	}
	defer tel.Close()
	audit, err := openAudit(cmd, f.auditPath)
	if err != nil {
		return err
	}
	if audit != nil {
		defer audit.Close()
	}
	tel.watchAudit(audit)
	s, err := o.runtimeSettings()
	if err != nil {
		return err
	}
	ropts := tel.runtimeOptions(runtimeOptions(s, f.pooler))
	rt, err := agentmv.OpenRuntime(cmd.Context(), s.RuntimeURL, ropts)
	if err != nil {
		return err
	}
	defer rt.Close()
	rt.Tools().Observe(auditObservers(audit)...)
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	// Tools added, changed or removed in materialize.yaml reach connected clients.
	go rt.WatchTools(ctx, o.configPath, 0, logger)
	var stopping atomic.Bool
	go func() {
		<-ctx.Done()
		stopping.Store(true)
	}()
	// materialize.yaml, when there is one, says which agents exist and who schedules.
	path := o.projectFile()
	var cfg *agentmv.Config
	if path != "" {
		cfg, _ = agentmv.LoadConfig(path) // RuntimeSettings read it above: an invalid file failed there
	}
	unservedAgentsWarning(cmd, path, cfg, s)
	// Every agent of materialize.yaml whose token is set gets its own server on its own role;
	// its bearer token selects it (--token-env's token selects the runtime role's).
	agents, closeAgents, err := openAgentServers(ctx, s, ropts, o.configPath, logger, auditObservers(audit)...)
	if err != nil {
		return err
	}
	defer closeAgents()
	if len(agents) > 0 {
		names := make([]string, len(agents))
		for i, a := range agents {
			names[i] = a.Name
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "serving agents %s (each on its own role, selected by its bearer token)\n", strings.Join(names, ", "))
	}
	srv, err := newHTTPMCP(cmd, tools.NewServer(tools.RuntimeServerName, versionString(), rt.Tools()), tools.HTTPOptions{
		Addr:            f.httpAddr,
		Agents:          agents,
		ShutdownTimeout: f.shutdown,
		Metrics:         tel.mcpHandler(f.tel),
		Probes: map[string]http.Handler{
			"/healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeProbe(w, nil) }),
			"/readyz":  readyz(rt, &stopping),
		},
	}, f.tokenEnv)
	if err != nil {
		return err
	}

	errc := make(chan error, 3)
	running := 1 // the server
	if cfg != nil && cfg.Scheduler == agentmv.SchedulerPgCron && !f.noScheduler {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s says `scheduler: pg_cron`: pg_cron refreshes the views, so this server's scheduler stays off\n", path)
		f.noScheduler = true
	}
	if !f.noScheduler {
		// Say what will be refreshed when, without --verbose: an operator should not have to
		// wait for the first refresh to learn that nothing is scheduled.
		if sts, err := (&refresh.Client{DB: rt.Pool(), Schema: s.TargetSchema}).Status(ctx); err != nil {
			logger.Warn("scheduler: read the views' schedules", "err", err)
		} else {
			fmt.Fprintln(cmd.ErrOrStderr(), scheduleSummary(sts))
		}
		sched, err := scheduler.New(scheduler.Options{DB: rt.Pool(), Schema: s.TargetSchema, Parallel: f.parallel,
			PollInterval: f.poll, ShutdownGrace: f.shutdown, Logger: logger, OnResult: tel.observeScheduled})
		if err != nil {
			return err
		}
		running++
		go func() { errc <- sched.Run(ctx) }()
	}
	// The server last: "serving MCP on" is the line that says everything above is decided.
	go func() { errc <- srv.Serve(ctx, announce(cmd)) }()
	if f.tel.metricsAddr != "" {
		running++
		go func() { errc <- tel.serveSeparate(ctx, cmd, f.tel) }()
	}
	var first error
	for ; running > 0; running-- {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel() // one part failed (e.g. the address is taken): stop the other
		}
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "agent-mv serve: stopped")
	return first
}

// readyz answers 200 while the database answers and the schema version is right, 503 (with
// the reason) otherwise and from the moment shutdown begins.
func readyz(rt *agentmv.Runtime, stopping *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stopping.Load() {
			writeProbe(w, fmt.Errorf("shutting down"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		writeProbe(w, rt.Ready(ctx))
	})
}

// writeProbe writes {"ok":true} with 200, or {"ok":false,"reason":...} with 503.
func writeProbe(w http.ResponseWriter, err error) {
	body := map[string]any{"ok": err == nil}
	status := http.StatusOK
	if err != nil {
		body["reason"] = err.Error()
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// scheduleSummary says what serve's scheduler refreshes: the views with refresh_every (the
// views reading them follow them in the same batch) and the views without a schedule.
func scheduleSummary(sts []refresh.ViewStatus) string {
	var scheduled, unscheduled []string
	for _, v := range sts {
		if v.RefreshEvery > 0 {
			scheduled = append(scheduled, v.Name+" every "+agentmv.FormatDuration(v.RefreshEvery))
		} else {
			unscheduled = append(unscheduled, v.Name)
		}
	}
	if len(scheduled) == 0 {
		return fmt.Sprintf("scheduler: none of the %d views has refresh_every, so nothing is refreshed on a schedule; give views a refresh_every in materialize.yaml and apply, or refresh them with `agent-mv refresh`", len(sts))
	}
	msg := "scheduler: refreshing " + strings.Join(scheduled, ", ") + " (and the views that read them, after them)"
	if len(unscheduled) > 0 {
		msg += "; without refresh_every: " + strings.Join(unscheduled, ", ")
	}
	return msg
}

// unservedAgentsWarning names the agents of materialize.yaml that serve will not serve because
// their token_env is unset (or they have none): their clients would get 401 with no clue why.
func unservedAgentsWarning(cmd *cobra.Command, path string, cfg *agentmv.Config, s agentmv.Settings) {
	if cfg == nil {
		return
	}
	for _, a := range cfg.Agents {
		if _, ok := s.AgentTokens[a.Name]; ok {
			continue
		}
		if a.TokenEnv == "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "agent %s is not served over HTTP: it has no token_env in %s\n", a.Name, path)
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "agent %s is not served over HTTP: its token_env %s is not set (set it in the environment or .env and restart)\n", a.Name, a.TokenEnv)
		}
	}
}
