package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// The demo works only in objects of its own, so it can never touch another project on the same
// server: a database and two roles with these names, each carrying demoMarker as its comment. A
// database or role of that name without the marker was not made by the demo, and the demo
// refuses to use it.
const (
	demoDatabase    = "agentmv_demo"
	demoRuntimeRole = "agentmv_demo_runtime"
	demoOwnerRole   = "agentmv_demo_owner"
	demoSchema      = agentmv.DefaultTargetSchema
	demoMarker      = "created by agent-mv demo; safe to drop"
	// demoDirMarker marks a project directory the demo wrote, so --dir never overwrites a
	// project of yours.
	demoDirMarker = ".agentmv-demo"
)

func newDemoCmd(o *rootOptions) *cobra.Command {
	var keep bool
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole flow on a demo shop database (a throwaway local Postgres unless DATABASE_URL is set)",
		Long: `demo starts a throwaway PostgreSQL from the server binaries installed on this machine (or uses
the server of DATABASE_URL when set), loads the demo shop (examples/demo), and runs plan → apply →
doctor → refresh-all → status → dashboard. Then it proves the boundary: the runtime role reads a
view and is denied a base table. --keep leaves the database running until Ctrl-C.

The demo touches nothing it did not create: on the server of DATABASE_URL it works in a database
of its own, ` + demoDatabase + `, with roles of its own, ` + demoRuntimeRole + ` and ` + demoOwnerRole + `
(the database named in DATABASE_URL is only used to connect). It refuses to run when it may not
create them (CREATEDB and CREATEROLE are needed) or when objects of those names exist that it
did not create. Remove it with: DROP DATABASE ` + demoDatabase + `; DROP ROLE ` + demoRuntimeRole + `, ` + demoOwnerRole + `;`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, o, dir, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the database running until Ctrl-C")
	cmd.Flags().StringVar(&dir, "dir", "", "project directory to write (default: a new temporary directory; an existing one must be empty or an earlier demo's)")
	return cmd
}

// demoRun carries the state of one `agent-mv demo` from step to step.
type demoRun struct {
	ctx context.Context
	cmd *cobra.Command
	out io.Writer
	o   *rootOptions

	serverURL       string // how to reach the server: DATABASE_URL, or the throwaway cluster
	given           bool   // serverURL came from DATABASE_URL (a server that may hold other projects)
	adminURL        string // serverURL on the demo's own database
	runtimeURL      string
	runtimePassword string // random per run: the demo's runtime role never keeps a known password
	dir             string
	project         *agentmv.Project
	dashboard       string
	keep            bool
}

// runDemo runs the demo's steps in order; each step is a method of demoRun.
func runDemo(cmd *cobra.Command, o *rootOptions, dir string, keep bool) error {
	d := &demoRun{ctx: cmd.Context(), cmd: cmd, out: cmd.OutOrStdout(), o: o, dir: dir, keep: keep}
	stop, err := d.startServer()
	if err != nil {
		return err
	}
	defer stop()
	defer func() {
		if d.project != nil {
			d.project.Close()
		}
	}()
	for _, step := range []func() error{
		d.isolate,
		d.writeProject,
		d.loadShop,
		d.openProject,
		d.planAndApply,
		d.doctor,
		d.refreshAll,
		d.status,
		d.buildDashboard,
		d.proveBoundary,
		d.connectAgent,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	if keep {
		fmt.Fprintln(d.out, "\nThe database keeps running; press Ctrl-C to stop it.")
		<-d.ctx.Done()
		fmt.Fprintln(d.out, "stopping")
	}
	return nil
}

func (d *demoRun) step(format string, args ...any) {
	fmt.Fprintf(d.out, "\n▶ "+format+"\n", args...)
}

// startServer picks the server: DATABASE_URL (flag or environment) when set, else a throwaway
// cluster from the local server binaries. stop releases the cluster.
func (d *demoRun) startServer() (stop func(), err error) {
	d.serverURL = d.o.databaseURL
	if d.serverURL == "" {
		d.serverURL = os.Getenv(agentmv.EnvDatabaseURL)
	}
	if d.serverURL != "" {
		d.given = true
		fmt.Fprintf(d.out, "Using the server of DATABASE_URL %s\n", agentmv.RedactDSN(d.serverURL))
		return func() {}, nil
	}
	d.step("starting a throwaway PostgreSQL (no DATABASE_URL set)")
	begin := time.Now()
	c, err := pglocal.Start(d.ctx, pglocal.Options{})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.serverURL = c.URL("postgres")
	fmt.Fprintf(d.out, "  PostgreSQL on 127.0.0.1:%d, data in %s (started in %s)\n", c.Port, c.Dir, time.Since(begin).Round(time.Millisecond))
	return func() { c.Close() }, nil
}

// isolate makes sure the demo has a database and roles of its own on the server (creating
// them, marked with demoMarker), and refuses when it cannot: it never installs into a database
// it did not create, nor reuses roles it did not create.
func (d *demoRun) isolate() error {
	d.step("a database and roles of the demo's own: %s, %s, %s", demoDatabase, demoRuntimeRole, demoOwnerRole)
	if !isURLDSN(d.serverURL) {
		return errors.New("demo: DATABASE_URL must be a postgres:// URL (the demo derives the URLs of its own database and runtime role from it)")
	}
	conn, err := pgx.Connect(d.ctx, d.serverURL)
	if err != nil {
		return fmt.Errorf("demo: connect with DATABASE_URL: %w", err)
	}
	defer conn.Close(d.ctx)
	// Check both privileges before creating anything, so a refusal leaves nothing behind.
	var user string
	var createDB, createRole bool
	if err := conn.QueryRow(d.ctx, `SELECT rolname, rolcreatedb OR rolsuper, rolcreaterole OR rolsuper
  FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&user, &createDB, &createRole); err != nil {
		return fmt.Errorf("demo: read the privileges of the DATABASE_URL role: %w", err)
	}
	if !createDB || !createRole {
		var missing []string
		if !createDB {
			missing = append(missing, "CREATEDB")
		}
		if !createRole {
			missing = append(missing, "CREATEROLE")
		}
		return refuseDemo(fmt.Sprintf("role %s lacks %s, which the demo needs to create its database %s and its roles", user, strings.Join(missing, " and "), demoDatabase),
			fmt.Sprintf("Run it with a DATABASE_URL whose role has CREATEDB and CREATEROLE (e.g. ALTER ROLE %s CREATEDB CREATEROLE)", pgx.Identifier{user}.Sanitize()))
	}
	created, err := ensureDemoDatabase(d.ctx, conn, user)
	if err != nil {
		return err
	}
	if err := ensureDemoRoles(d.ctx, conn, user); err != nil {
		return err
	}
	if created {
		fmt.Fprintf(d.out, "  created database %s (comment: %q)\n", demoDatabase, demoMarker)
	} else {
		fmt.Fprintf(d.out, "  reusing database %s, created by an earlier demo\n", demoDatabase)
	}
	if d.adminURL, err = withDatabase(d.serverURL, demoDatabase); err != nil {
		return err
	}
	d.runtimePassword = randomPassword()
	d.runtimeURL, err = withUser(d.adminURL, demoRuntimeRole, d.runtimePassword)
	return err
}

// refuseDemo explains why the demo will not run and what to do instead.
func refuseDemo(why, fix string) error {
	return fmt.Errorf("demo: refusing to run: %s. The demo only works in a database and roles of its own (%s, %s, %s), so it never touches another project's tables, views or roles. %s, or unset DATABASE_URL to run the demo on a throwaway local PostgreSQL",
		why, demoDatabase, demoRuntimeRole, demoOwnerRole, fix)
}

// objectComment returns whether the shared object exists and its comment (empty when none).
func objectComment(ctx context.Context, conn *pgx.Conn, catalog, name string) (bool, string, error) {
	var q string
	switch catalog {
	case "pg_database":
		q = "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = $1"
	default:
		q = "SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = $1"
	}
	var comment string
	err := conn.QueryRow(ctx, q, name).Scan(&comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("demo: look up %s: %w", name, err)
	}
	return true, comment, nil
}

// ensureDemoDatabase creates demoDatabase (reporting true) or checks that the existing one is
// the demo's.
func ensureDemoDatabase(ctx context.Context, conn *pgx.Conn, user string) (bool, error) {
	exists, comment, err := objectComment(ctx, conn, "pg_database", demoDatabase)
	if err != nil {
		return false, err
	}
	if exists {
		if comment != demoMarker {
			return false, refuseDemo("a database named "+demoDatabase+" exists and was not created by agent-mv demo (its comment is not "+fmt.Sprintf("%q", demoMarker)+")",
				"Rename or drop that database if it is not yours to keep")
		}
		return false, nil
	}
	db := pgx.Identifier{demoDatabase}.Sanitize()
	_, err = conn.Exec(ctx, "CREATE DATABASE "+db)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42501":
		return false, refuseDemo(fmt.Sprintf("role %s may not create databases (it lacks CREATEDB), so the demo cannot create its database %s", user, demoDatabase),
			fmt.Sprintf("Run it with a DATABASE_URL whose role has CREATEDB and CREATEROLE (e.g. ALTER ROLE %s CREATEDB CREATEROLE)", pgx.Identifier{user}.Sanitize()))
	case errors.As(err, &pgErr) && pgErr.Code == "42P04":
		// Another demo created it just now: check its marker like any existing database.
		return ensureDemoDatabase(ctx, conn, user)
	case err != nil:
		return false, fmt.Errorf("demo: create database %s: %w", demoDatabase, err)
	}
	if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+db+" IS "+quoteLiteral(demoMarker)); err != nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE "+db) // just created, empty: undo
		return false, fmt.Errorf("demo: mark database %s as the demo's: %w", demoDatabase, err)
	}
	return true, nil
}

// ensureDemoRoles creates the demo's owner and runtime roles (NOLOGIN; apply gives the runtime
// role LOGIN and a password) with the marker, or checks that existing ones carry it.
func ensureDemoRoles(ctx context.Context, conn *pgx.Conn, user string) error {
	for _, r := range []struct{ name, attrs string }{
		{demoOwnerRole, "NOLOGIN"},
		{demoRuntimeRole, "NOLOGIN NOINHERIT"},
	} {
		exists, comment, err := objectComment(ctx, conn, "pg_authid", r.name)
		if err != nil {
			return err
		}
		if exists {
			if comment != demoMarker {
				return refuseDemo("a role named "+r.name+" exists and was not created by agent-mv demo", "Rename or drop that role if it is not yours to keep")
			}
			continue
		}
		role := pgx.Identifier{r.name}.Sanitize()
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "CREATE ROLE "+role+" "+r.attrs); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "COMMENT ON ROLE "+role+" IS "+quoteLiteral(demoMarker))
			return err
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return refuseDemo(fmt.Sprintf("role %s may not create roles (it lacks CREATEROLE), so the demo cannot create its role %s", user, r.name),
				fmt.Sprintf("Run it with a DATABASE_URL whose role has CREATEDB and CREATEROLE (e.g. ALTER ROLE %s CREATEDB CREATEROLE)", pgx.Identifier{user}.Sanitize()))
		}
		if err != nil {
			return fmt.Errorf("demo: create role %s: %w", r.name, err)
		}
	}
	return nil
}

// writeProject writes the demo's materialize.yaml and SQL files into the project directory: a
// new temporary one by default; an existing --dir must be empty or an earlier demo's.
func (d *demoRun) writeProject() error {
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "agentmv-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		d.dir = dir
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("demo: %w", err)
	}
	if len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(d.dir, demoDirMarker)); err != nil {
			return fmt.Errorf("demo: refusing to write into %s: it is not empty and was not written by an earlier demo (no %s file); pass an empty or new --dir", d.dir, demoDirMarker)
		}
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, demoDirMarker), []byte(demoMarker+"\n"), 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := demo.WriteProject(d.dir); err != nil {
		return fmt.Errorf("demo: write project files: %w", err)
	}
	return nil
}

// loadShop loads examples/demo/seed.sql into the demo database unless public.orders exists.
func (d *demoRun) loadShop() error {
	d.step("loading the demo shop (5 tables, ~120k orders) into %s", demoDatabase)
	begin := time.Now()
	conn, err := pgx.Connect(d.ctx, d.adminURL)
	if err != nil {
		return fmt.Errorf("demo: connect to %s: %w", demoDatabase, err)
	}
	defer conn.Close(d.ctx)
	var exists bool
	if err := conn.QueryRow(d.ctx, "SELECT to_regclass('public.orders') IS NOT NULL").Scan(&exists); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if exists {
		fmt.Fprintln(d.out, "  already loaded (public.orders exists)")
		return nil
	}
	// The seed is a trusted multi-statement script shipped in the binary: simple protocol, one
	// transaction.
	if _, err := conn.PgConn().Exec(d.ctx, "BEGIN;\n"+demo.SeedSQL()+"\nCOMMIT;").ReadAll(); err != nil {
		return fmt.Errorf("demo: load seed data: %w", err)
	}
	fmt.Fprintf(d.out, "  loaded in %s\n", time.Since(begin).Round(time.Millisecond))
	return nil
}

// openProject binds the demo's materialize.yaml to its own database and roles. Nothing from
// the environment or a .env file is read: the demo's names are fixed.
func (d *demoRun) openProject() error {
	p, err := agentmv.Open(d.ctx, agentmv.Options{
		ConfigPath: filepath.Join(d.dir, "materialize.yaml"),
		DotenvPath: "-",
		Environ:    func(string) (string, bool) { return "", false },
		Overrides: agentmv.Settings{DatabaseURL: d.adminURL, RuntimeURL: d.runtimeURL, RuntimePassword: d.runtimePassword,
			TargetSchema: demoSchema, RuntimeRole: demoRuntimeRole, OwnerRole: demoOwnerRole},
		Logger: d.o.logger(d.cmd),
	})
	if err != nil {
		return err
	}
	d.project = p
	return nil
}

func (d *demoRun) planAndApply() error {
	d.step("agent-mv plan")
	plan, err := d.project.Plan(d.ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(d.out, plan.String())

	d.step("agent-mv apply --yes")
	// RotatePassword: the demo's runtime role gets this run's random password.
	res, err := d.project.Apply(d.ctx, agentmv.ApplyOptions{Expect: plan.Fingerprint(), RotatePassword: true})
	if err != nil {
		return err
	}
	for _, c := range res.Bootstrap.Changes {
		fmt.Fprintln(d.out, "  · "+c)
	}
	fmt.Fprintf(d.out, "✓ applied %d view(s) in %s (%s)\n", len(d.project.Config().Views), res.Elapsed.Round(time.Millisecond), res.Plan.Done())
	return nil
}

func (d *demoRun) doctor() error {
	d.step("agent-mv doctor")
	rep, err := d.project.Doctor(d.ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(d.out, rep.String())
	if !rep.OK() {
		return errors.New("demo: doctor found problems (✗ above)")
	}
	return nil
}

func (d *demoRun) refreshAll() error {
	d.step("agent-mv refresh-all")
	sum, err := d.project.RefreshAll(d.ctx, refresh.AllOptions{Progress: func(e refresh.Event) {
		if e.Result != nil {
			fmt.Fprintf(d.out, "%s  (wave %d)\n", describeResult(*e.Result), e.Wave)
		}
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "refresh-all: %d succeeded, %d failed, %d skipped, %d fresh in %s\n", sum.Succeeded, sum.Failed, sum.Skipped, sum.Fresh, sum.Elapsed.Round(time.Millisecond))
	return nil
}

func (d *demoRun) status() error {
	d.step("agent-mv status")
	st, err := d.project.Status(d.ctx)
	if err != nil {
		return err
	}
	writeStatus(d.cmd, st, time.Now())
	return nil
}

func (d *demoRun) buildDashboard() error {
	d.step("agent-mv dashboard build")
	d.dashboard = filepath.Join(d.dir, "dashboard.html")
	if err := writeDashboard(d.ctx, d.project, d.dashboard); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "✓ wrote %s\n", d.dashboard)
	return nil
}

// proveBoundary connects as the runtime role: it reads a view, and Postgres denies it a base
// table.
func (d *demoRun) proveBoundary() error {
	d.step("the boundary, enforced by Postgres (as %s)", demoRuntimeRole)
	conn, err := pgx.Connect(d.ctx, d.runtimeURL)
	if err != nil {
		return fmt.Errorf("demo: connect as the runtime role: %w", err)
	}
	defer conn.Close(d.ctx)
	q := "SELECT email, order_count, lifetime_value_cents FROM " + pgx.Identifier{demoSchema, "top_customers_30d"}.Sanitize()
	fmt.Fprintf(d.out, "$ %s\n", q)
	rows, err := conn.Query(d.ctx, q)
	if err != nil {
		return fmt.Errorf("demo: the runtime role cannot read its view: %w", err)
	}
	tw := tabwriter.NewWriter(d.out, 0, 2, 2, ' ', 0)
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
	fmt.Fprintln(d.out, "$ SELECT count(*) FROM public.users;")
	var n int64
	err = conn.QueryRow(d.ctx, "SELECT count(*) FROM public.users").Scan(&n)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		fmt.Fprintf(d.out, "  ERROR: %s\n  ✓ blocked by Postgres, as expected\n", pgErr.Message)
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo: unexpected error probing the boundary: %w", err)
	}
	fmt.Fprintf(d.out, "  %d\n  ✗ boundary breach!\n", n)
	return errors.New("demo: the runtime role can read public.users")
}

func (d *demoRun) connectAgent() error {
	d.step("connect an agent")
	fmt.Fprintf(d.out, "Export the runtime role's connection string (this run's password) where your agent client starts:\n  export %s='%s'\n",
		agentmv.EnvRuntimeURL, d.runtimeURL)
	fmt.Fprintf(d.out, "and add this to .mcp.json (the runtime server only sees the views; the client fills in ${%s}):\n%s\n",
		agentmv.EnvRuntimeURL, mcpSnippet(demoSchema))
	fmt.Fprintf(d.out, "Dashboard: file://%s\nProject files: %s\n", d.dashboard, d.dir)
	if !d.given && !d.keep {
		fmt.Fprintln(d.out, "(The throwaway PostgreSQL stops when the demo ends; run with --keep to connect an agent to it.)")
	} else {
		fmt.Fprintf(d.out, "Remove the demo from that server with: DROP DATABASE %s; DROP ROLE %s, %s;\n", demoDatabase, demoRuntimeRole, demoOwnerRole)
	}
	return nil
}

func isURLDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

func withUser(dsn, user, password string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("demo: DATABASE_URL must be a postgres:// URL to derive the runtime role's URL")
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("demo: DATABASE_URL must be a postgres:// URL to derive the demo database's URL")
	}
	u.Path = "/" + name
	u.RawPath = ""
	q := u.Query()
	if q.Has("dbname") {
		q.Set("dbname", name)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

func randomPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "demo_" + hex.EncodeToString(b)
}

// quoteLiteral returns s as an SQL string literal, for COMMENT (which takes no parameters);
// only used on the constant demoMarker.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// mcpSnippet is the .mcp.json entry for the runtime server: the command the README's install
// provides, and the connection string taken from the client's environment (${VAR} expansion),
// never written into the file.
func mcpSnippet(schema string) string {
	return strings.TrimSpace(fmt.Sprintf(`{
  "mcpServers": {
    "agent-materialize-runtime": {
      "command": "agent-mv",
      "args": ["mcp", "runtime"],
      "env": {
        "AGENT_MV_RUNTIME_URL": "${%s}",
        "AGENT_MV_TARGET_SCHEMA": %q
      }
    }
  }
}`, agentmv.EnvRuntimeURL, schema))
}
