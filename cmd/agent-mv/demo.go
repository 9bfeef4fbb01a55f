package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/examples/demo"
	"github.com/agentmv/agentmv/internal/pglocal"
	"github.com/agentmv/agentmv/refresh"
)

func newDemoCmd(o *rootOptions) *cobra.Command {
	var keep bool
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole flow on a demo shop database (a throwaway local Postgres unless DATABASE_URL is set)",
		Long: `demo starts a throwaway PostgreSQL from the server binaries installed on this machine (or uses
DATABASE_URL when set), loads the demo shop (examples/demo), and runs plan → apply → doctor →
refresh-all → status → dashboard. Then it proves the boundary: the runtime role reads a view
and is denied a base table. --keep leaves the database running until Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, o, dir, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the database running until Ctrl-C")
	cmd.Flags().StringVar(&dir, "dir", "", "project directory to write (default: a new temporary directory)")
	return cmd
}

func runDemo(cmd *cobra.Command, o *rootOptions, dir string, keep bool) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	step := func(format string, args ...any) { fmt.Fprintf(out, "\n▶ "+format+"\n", args...) }

	adminURL := o.databaseURL
	if adminURL == "" {
		adminURL = os.Getenv("DATABASE_URL")
	}
	runtimePassword := os.Getenv("AGENT_MV_RUNTIME_PASSWORD")
	if runtimePassword == "" {
		runtimePassword = agentmv.DefaultRuntimePassword
	}
	if adminURL == "" {
		step("starting a throwaway PostgreSQL (no DATABASE_URL set)")
		begin := time.Now()
		c, err := pglocal.Start(ctx, pglocal.Options{})
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer c.Close()
		if err := createDatabase(ctx, c.URL("postgres"), "shop"); err != nil {
			return err
		}
		adminURL = c.URL("shop")
		fmt.Fprintf(out, "  PostgreSQL on 127.0.0.1:%d, data in %s (started in %s)\n", c.Port, c.Dir, time.Since(begin).Round(time.Millisecond))
	} else {
		fmt.Fprintf(out, "Using DATABASE_URL %s\n", agentmv.RedactDSN(adminURL))
	}
	runtimeURL, err := withUser(adminURL, agentmv.DefaultRuntimeRole, runtimePassword)
	if err != nil {
		return err
	}

	if dir == "" {
		if dir, err = os.MkdirTemp("", "agentmv-demo-"); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := demo.WriteProject(dir); err != nil {
		return fmt.Errorf("demo: write project files: %w", err)
	}

	step("loading the demo shop (5 tables, ~120k orders)")
	begin := time.Now()
	seeded, err := seedShop(ctx, adminURL)
	if err != nil {
		return err
	}
	if seeded {
		fmt.Fprintf(out, "  loaded in %s\n", time.Since(begin).Round(time.Millisecond))
	} else {
		fmt.Fprintln(out, "  already loaded (public.orders exists)")
	}

	p, err := agentmv.Open(ctx, agentmv.Options{
		ConfigPath: filepath.Join(dir, "materialize.yaml"),
		DotenvPath: "-",
		Overrides:  agentmv.Settings{DatabaseURL: adminURL, RuntimeURL: runtimeURL, RuntimePassword: runtimePassword},
		Logger:     o.logger(cmd),
	})
	if err != nil {
		return err
	}
	defer p.Close()

	step("agent-mv plan")
	plan, err := p.Plan(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(out, plan.String())

	step("agent-mv apply --yes")
	res, err := p.Apply(ctx, agentmv.ApplyOptions{Expect: plan.Fingerprint()})
	if err != nil {
		return err
	}
	for _, c := range res.Bootstrap.Changes {
		fmt.Fprintln(out, "  · "+c)
	}
	fmt.Fprintf(out, "✓ applied %d view(s) in %s (%d created or rebuilt)\n", len(p.Config().Views), res.Elapsed.Round(time.Millisecond), len(res.Plan.CreateOrder))

	step("agent-mv doctor")
	rep, err := p.Doctor(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(out, rep.String())
	if !rep.OK() {
		return errors.New("demo: doctor found problems (✗ above)")
	}

	step("agent-mv refresh-all")
	sum, err := p.RefreshAll(ctx, refresh.AllOptions{Progress: func(e refresh.Event) {
		if e.Result != nil {
			fmt.Fprintf(out, "%s  (wave %d)\n", describeResult(*e.Result), e.Wave)
		}
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "refresh-all: %d succeeded, %d failed, %d skipped, %d fresh in %s\n", sum.Succeeded, sum.Failed, sum.Skipped, sum.Fresh, sum.Elapsed.Round(time.Millisecond))

	step("agent-mv status")
	st, err := p.Status(ctx)
	if err != nil {
		return err
	}
	writeStatus(cmd, st, time.Now())

	step("agent-mv dashboard build")
	dashPath := filepath.Join(dir, "dashboard.html")
	if err := writeDashboard(ctx, p, dashPath); err != nil {
		return err
	}
	fmt.Fprintf(out, "✓ wrote %s\n", dashPath)

	step("the boundary, enforced by Postgres (as %s)", agentmv.DefaultRuntimeRole)
	if err := proveBoundary(ctx, out, runtimeURL, p.Settings().TargetSchema); err != nil {
		return err
	}

	step("connect an agent")
	fmt.Fprintf(out, "Add this to .mcp.json (the runtime server only sees the views):\n%s\n", mcpSnippet(runtimeURL, p.Settings().TargetSchema))
	fmt.Fprintf(out, "Dashboard: file://%s\nProject files: %s\n", dashPath, dir)
	if keep {
		fmt.Fprintln(out, "\nThe database keeps running; press Ctrl-C to stop it.")
		<-ctx.Done()
		fmt.Fprintln(out, "stopping")
	}
	return nil
}

func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" {
		return nil
	}
	return err
}

// seedShop loads examples/demo/seed.sql unless public.orders already exists.
func seedShop(ctx context.Context, adminURL string) (bool, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return false, fmt.Errorf("demo: connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('public.orders') IS NOT NULL").Scan(&exists); err != nil {
		return false, err
	}
	if exists {
		return false, nil
	}
	// The seed is a trusted multi-statement script shipped in the binary: simple protocol, one
	// transaction.
	if _, err := conn.PgConn().Exec(ctx, "BEGIN;\n"+demo.SeedSQL()+"\nCOMMIT;").ReadAll(); err != nil {
		return false, fmt.Errorf("demo: load seed data: %w", err)
	}
	return true, nil
}

func proveBoundary(ctx context.Context, out io.Writer, runtimeURL, schema string) error {
	conn, err := pgx.Connect(ctx, runtimeURL)
	if err != nil {
		return fmt.Errorf("demo: connect as the runtime role: %w", err)
	}
	defer conn.Close(ctx)
	q := "SELECT email, order_count, lifetime_value_cents FROM " + pgx.Identifier{schema, "top_customers_30d"}.Sanitize()
	fmt.Fprintf(out, "$ %s\n", q)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("demo: the runtime role cannot read its view: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "  email\torder_count\tlifetime_value_cents")
	for rows.Next() {
		var email string
		var n, v int64
		if err := rows.Scan(&email, &n, &v); err != nil {
			return err
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\n", email, n, v)
	}
	tw.Flush()
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Fprintln(out, "$ SELECT count(*) FROM public.users;")
	var n int64
	err = conn.QueryRow(ctx, "SELECT count(*) FROM public.users").Scan(&n)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		fmt.Fprintf(out, "  ERROR: %s\n  ✓ blocked by Postgres, as expected\n", pgErr.Message)
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo: unexpected error probing the boundary: %w", err)
	}
	fmt.Fprintf(out, "  %d\n  ✗ boundary breach!\n", n)
	return errors.New("demo: the runtime role can read public.users")
}

func withUser(dsn, user, password string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("demo: DATABASE_URL must be a postgres:// URL to derive the runtime role's URL")
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

func mcpSnippet(runtimeURL, schema string) string {
	return strings.TrimSpace(fmt.Sprintf(`{
  "mcpServers": {
    "agent-materialize-runtime": {
      "command": "agent-materialize-runtime-mcp",
      "env": {
        "AGENT_MV_RUNTIME_URL": %q,
        "AGENT_MV_TARGET_SCHEMA": %q
      }
    }
  }
}`, runtimeURL, schema))
}
