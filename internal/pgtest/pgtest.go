package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/internal/pglocal"
	"github.com/agentmv/agentmv/internal/testutil"
)

// EnvURL names the variable that points the tests at an existing server. Its role must be
// able to create databases and roles (a superuser is simplest).
const EnvURL = "AGENTMV_TEST_DATABASE_URL"

// server is the Postgres every test of this binary shares. It is set once by Main.
type server struct {
	adminURL  string // superuser DSN for the `postgres` maintenance database
	source    string // "env", "pglocal" or "testcontainers"
	skipWhy   string // non-empty when no server could be found (never under CI=true)
	cluster   *pglocal.Cluster
	terminate func()
}

var (
	srv     *server
	counter atomic.Int64
)

// Main runs the tests of a package against one shared Postgres server. Use it as
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// The server is, in order: AGENTMV_TEST_DATABASE_URL; a throwaway cluster from installed
// server binaries; a testcontainers Postgres when a Docker engine answers. Without any of
// them, tests that need a database skip, except under CI=true where Main fails the run.
func Main(m *testing.M) {
	s, err := startServer()
	if err != nil {
		if testutil.CI() {
			fmt.Fprintf(os.Stderr, "pgtest: no Postgres for the tests under CI=true: %v\n", err)
			os.Exit(1)
		}
		s = &server{skipWhy: err.Error()}
	}
	srv = s
	code := m.Run()
	if s.cluster != nil {
		_ = s.cluster.Close()
	}
	if s.terminate != nil {
		s.terminate()
	}
	os.Exit(code)
}

func startServer() (*server, error) {
	if u := os.Getenv(EnvURL); u != "" {
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid DSN: %w", EnvURL, err)
		}
		cfg.Database = "postgres"
		return &server{adminURL: withDatabase(u, "postgres"), source: "env"}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pglocal.Start(ctx, pglocal.Options{StopOnSignal: true})
	if err == nil {
		return &server{adminURL: c.URL("postgres"), source: "pglocal", cluster: c}, nil
	}
	localErr := err
	if errors.Is(err, pglocal.ErrNoBinaries) {
		s, cerr := startContainer(ctx)
		if cerr == nil {
			return s, nil
		}
		return nil, fmt.Errorf("%v; testcontainers fallback: %v", localErr, cerr)
	}
	return nil, localErr
}

// DB is one fresh database of the shared server, dropped when the test ends.
type DB struct {
	// Name of the database.
	Name string
	// AdminURL is a superuser DSN for this database over TCP with a password.
	AdminURL string
	// Prefix is a short name unique to this database; use it for cluster-wide objects such as
	// roles (`db.Prefix + "_runtime"`), which cleanup drops.
	Prefix string
}

// NewDB creates a fresh database for the test and drops it (and every role whose name starts
// with Prefix+"_") when the test ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	if srv == nil {
		t.Fatal("pgtest: call pgtest.Main(m) from TestMain")
	}
	if srv.skipWhy != "" {
		testutil.SkipOrFail(t, "no Postgres for this test: %s (set %s, or install PostgreSQL server binaries)", srv.skipWhy, EnvURL)
	}
	n := counter.Add(1)
	prefix := fmt.Sprintf("t%d%s", n, randomHex(2))
	name := "agentmv_" + prefix
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	withConn(ctx, t, srv.adminURL, func(conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatalf("pgtest: create database: %v", err)
		}
	})
	db := &DB{Name: name, AdminURL: withDatabase(srv.adminURL, name), Prefix: prefix}
	t.Cleanup(func() { db.drop(t) })
	return db
}

func (db *DB) drop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.adminURL)
	if err != nil {
		t.Logf("pgtest: cleanup connect: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Logf("pgtest: drop database %s: %v", db.Name, err)
	}
	rows, err := conn.Query(ctx, "SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)", db.Prefix+"_")
	if err != nil {
		t.Logf("pgtest: list roles: %v", err)
		return
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Logf("pgtest: list roles: %v", err)
		return
	}
	for _, r := range roles {
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize()); err != nil {
			t.Logf("pgtest: drop role %s: %v", r, err)
		}
	}
}

// Pool opens an admin pool on the database, closed when the test ends.
func (db *DB) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return db.PoolFor(t, db.AdminURL)
}

// PoolFor opens a pool on any DSN, closed when the test ends.
func (db *DB) PoolFor(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// URL is a DSN for this database as any role, over TCP with a password.
func (db *DB) URL(user, password string) string {
	u, err := url.Parse(db.AdminURL)
	if err != nil {
		panic(err) // AdminURL is built by this package
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// CreateLoginRole creates a LOGIN role with a password (dropped at cleanup; its name should
// start with db.Prefix+"_") and returns a DSN for it on this database.
func (db *DB) CreateLoginRole(t testing.TB, name, password string) string {
	t.Helper()
	if !strings.HasPrefix(name, db.Prefix+"_") {
		t.Fatalf("pgtest: role %q must start with %q so cleanup drops it", name, db.Prefix+"_")
	}
	// CREATE ROLE cannot take bind parameters; the password is a test constant, quoted safely.
	ctx := context.Background()
	q := "CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " LOGIN PASSWORD " + quoteLiteral(password)
	withConn(ctx, t, db.AdminURL, func(conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("pgtest: create role %s: %v", name, err)
		}
	})
	return db.URL(name, password)
}

// Exec runs statements as the superuser on this database, failing the test on error.
func (db *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	withConn(ctx, t, db.AdminURL, func(conn *pgx.Conn) {
		if len(args) == 0 {
			// Test fixtures are trusted multi-statement scripts: use the simple protocol.
			if _, err := conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
				t.Fatalf("pgtest: exec fixture: %v\n%s", err, sql)
			}
			return
		}
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("pgtest: exec: %v\n%s", err, sql)
		}
	})
}

// ServerVersionNum is the server's server_version_num (e.g. 170010 for 17.10), for tests whose
// expectations differ between major versions (MAINTAIN and pg_maintain exist from 17 on, ...).
func (db *DB) ServerVersionNum(t testing.TB) int {
	t.Helper()
	ctx := context.Background()
	var v int
	withConn(ctx, t, db.AdminURL, func(conn *pgx.Conn) {
		if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
			t.Fatalf("pgtest: server_version_num: %v", err)
		}
	})
	return v
}

// withConn runs fn on a new superuser connection to dsn (closed afterwards), failing the test
// when the server cannot be reached.
func withConn(ctx context.Context, t testing.TB, dsn string, fn func(conn *pgx.Conn)) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect to the %s server: %v", srv.source, err)
	}
	defer conn.Close(ctx)
	fn(conn)
}

// Cluster returns the throwaway cluster when the tests run on one (nil otherwise), for tests
// that restart the server.
func Cluster() *pglocal.Cluster {
	if srv == nil {
		return nil
	}
	return srv.cluster
}

// Source says where the shared server comes from: "env", "pglocal" or "testcontainers".
func Source() string {
	if srv == nil {
		return ""
	}
	return srv.source
}

func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
