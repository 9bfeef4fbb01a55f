package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/connerr"
)

// rootOptions holds the global flags; every verb receives a pointer to it.
type rootOptions struct {
	configPath  string
	json        bool
	databaseURL string
	runtimeURL  string
	schema      string
}

// subcommands builds every verb. Each verb lives in its own file as newXxxCmd(*rootOptions);
// add new verbs to this list.
func subcommands(o *rootOptions) []*cobra.Command {
	return []*cobra.Command{
		newInitCmd(o),
		newDiscoverCmd(o),
		newPlanCmd(o),
		newApplyCmd(o),
		newDropCmd(o),
		newDoctorCmd(o),
		newStatusCmd(o),
		newRefreshCmd(o),
		newRefreshAllCmd(o),
		newDashboardCmd(o),
		newMcpCmd(o),
		newServeCmd(o),
		newDemoCmd(o),
		newVersionCmd(o),
	}
}

// newRootCmd builds the agent-mv command tree.
func newRootCmd() *cobra.Command {
	o := &rootOptions{}
	root := &cobra.Command{
		Use:   "agent-mv",
		Short: "agent-materialize CLI: curated materialized views for AI agents, behind a Postgres role boundary",
		Long: `agent-mv manages the curated materialized views that AI agents may read.

An operator (helped by an agent during setup) lists views in materialize.yaml; agent-mv apply
builds them in a dedicated schema, and agents then read and refresh only those views as a
Postgres role that cannot see the base tables.

Settings come from flags, then the environment, then ./.env, then materialize.yaml, then
defaults: DATABASE_URL, AGENT_MV_RUNTIME_URL, AGENT_MV_RUNTIME_PASSWORD, AGENT_MV_TARGET_SCHEMA.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("agent-mv {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&o.configPath, "config", "", "path of the project file (default: materialize.yaml here or in the nearest parent directory; its .env is read)")
	pf.BoolVar(&o.json, "json", false, "print machine-readable JSON instead of text")
	pf.StringVar(&o.databaseURL, "database-url", "", "privileged connection string (default $DATABASE_URL)")
	pf.StringVar(&o.runtimeURL, "runtime-url", "", "runtime role connection string (default $AGENT_MV_RUNTIME_URL)")
	pf.StringVar(&o.schema, "schema", "", "target schema (default $AGENT_MV_TARGET_SCHEMA, then target_schema, then agent_mv)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(subcommands(o)...)
	return root
}

// usageError marks command-line mistakes (exit code 2, like the seed's Click usage errors).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run executes the CLI with args and returns the process exit code. Errors are printed once,
// as "error: …" on stderr, with any connection-string password masked.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, newRootCmd(), args, stdout, stderr)
}

// execute runs root with args; see run.
//
// With --json the error is a JSON object, {"error": "…", "exit_code": N} and the error's
// jsonDetails (apply's plan when it stops before applying), on stdout when the verb printed
// nothing there (so `agent-mv status --json | jq` always reads JSON), else on
// stderr after the verb's own JSON.
func execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ue usageError
	if errors.As(err, &ue) {
		code = 2
	}
	msg := agentmv.RedactText(connerr.Text(err))
	if asJSON, _ := root.PersistentFlags().GetBool("json"); asJSON {
		w := stdout
		if out.n > 0 {
			w = stderr
		}
		obj := map[string]any{"error": msg, "exit_code": code}
		var d jsonDetails
		if errors.As(err, &d) {
			for k, v := range d.details {
				obj[k] = v
			}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(obj)
		return code
	}
	fmt.Fprintln(stderr, "error: "+msg)
	if code == 2 {
		fmt.Fprintln(stderr, "Run 'agent-mv --help' for usage.")
	}
	return code
}

// countingWriter counts what a verb wrote to stdout.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// overrides returns the settings given by flags, for agentmv.Options.Overrides or
// agentmv.ResolveSettings.
func (o *rootOptions) overrides() agentmv.Settings {
	return agentmv.Settings{DatabaseURL: o.databaseURL, RuntimeURL: o.runtimeURL, TargetSchema: o.schema}
}

// logger returns a logger that prints warnings to the command's stderr.
func (o *rootOptions) logger(cmd *cobra.Command) *slog.Logger {
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// printJSON writes v as indented JSON to the command's stdout.
func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonDetails is an error that carries more for --json's error object, next to "error" and
// "exit_code": e.g. apply's plan when apply stops before applying, so a script sees what it
// refused to do without running plan again.
type jsonDetails struct {
	error
	details map[string]any
}

func (e jsonDetails) Unwrap() error { return e.error }
