package refresh_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/refresh"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const runtimePassword = "Refresh-test_pw1"

// fixture is a database with agentmv bootstrapped (as apply would, through boundary) and a
// refresh client that runs as the runtime role over TCP with a password.
type fixture struct {
	db      *pgtest.DB
	n       boundary.Names
	admin   *pgxpool.Pool // superuser
	runtime *pgxpool.Pool // runtime role
	client  *refresh.Client
}

// newFixture creates a fresh database, runs setupSQL (base tables, as the superuser) and
// bootstraps agentmv's schema and roles.
func newFixture(t testing.TB, setupSQL string) *fixture {
	t.Helper()
	db := pgtest.NewDB(t)
	f := &fixture{db: db, n: boundary.Names{Schema: "agent_mv", RuntimeRole: db.Prefix + "_runtime", OwnerRole: db.Prefix + "_owner"}}
	f.admin = db.Pool(t)
	if setupSQL != "" {
		db.Exec(t, setupSQL)
	}
	f.inTx(t, func(ctx context.Context, tx pgx.Tx) error {
		// TestRefreshSingleFlight opens 50 runtime connections, over the default limit.
		_, err := boundary.Bootstrap(ctx, tx, f.n, runtimePassword, &boundary.BootstrapOptions{Limits: boundary.RoleLimits{ConnectionLimit: 100}})
		return err
	})
	f.runtime = f.runtimePool(t, 10)
	f.client = &refresh.Client{DB: f.runtime, Schema: f.n.Schema}
	return f
}

// runtimePool opens a pool of up to maxConns connections as the runtime role.
func (f *fixture) runtimePool(t testing.TB, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(f.db.URL(f.n.RuntimeRole, runtimePassword))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("runtime pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func (f *fixture) inTx(t testing.TB, fn func(ctx context.Context, tx pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	tx, err := f.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := fn(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// view describes one managed view for addViews.
type view struct {
	name                  string
	body                  string           // SELECT; empty when the view was created by hand (asOwner)
	tables                []string         // base tables it reads, "schema.table"
	views                 []string         // managed views it reads
	indexes               []boundary.Index // created with the view
	maxStale, minInterval *time.Duration
	lockTimeout           *time.Duration // refresh_lock_timeout
}

// addViews creates and registers views in one transaction, as apply would: owner grants on
// the base tables, CREATE MATERIALIZED VIEW as the owner, registry row, lineage.
func (f *fixture) addViews(t testing.TB, views ...view) {
	t.Helper()
	var sources []boundary.Relation
	for _, v := range views {
		for _, tb := range v.tables {
			r, err := boundary.ParseRelation(tb)
			if err != nil {
				t.Fatal(err)
			}
			sources = append(sources, r)
		}
	}
	f.inTx(t, func(ctx context.Context, tx pgx.Tx) error {
		if len(sources) > 0 {
			if _, err := boundary.GrantSourcesToOwner(ctx, tx, f.n, sources); err != nil {
				return err
			}
		}
		for _, v := range views {
			if v.body != "" {
				if err := boundary.CreateView(ctx, tx, f.n, v.name, v.body, v.indexes); err != nil {
					return err
				}
			}
			rec := boundary.ViewRecord{Name: v.name, Description: "test view " + v.name, SQLHash: "h-" + v.name,
				Indexes: v.indexes, MaxStaleness: v.maxStale, MinRefreshInterval: v.minInterval, RefreshLockTimeout: v.lockTimeout}
			if err := boundary.UpsertView(ctx, tx, f.n, rec); err != nil {
				return err
			}
			if err := boundary.ReplaceLineage(ctx, tx, f.n, v.name, v.tables, v.views); err != nil {
				return err
			}
		}
		return nil
	})
}

// asOwner runs a trusted script as the owner role (SET ROLE), e.g. hand-made views and indexes.
func (f *fixture) asOwner(t testing.TB, sql string) {
	t.Helper()
	f.db.Exec(t, "SET ROLE "+pgx.Identifier{f.n.OwnerRole}.Sanitize()+";\n"+sql+";\nRESET ROLE;")
}

// history returns the committed refresh_history rows of a view, oldest first, read as the
// runtime role.
func (f *fixture) history(t testing.TB, name string) []historyRow {
	t.Helper()
	rows, err := f.runtime.Query(context.Background(), `SELECT id, status, started_at, finished_at, coalesce(error, ''),
	       coalesce(sqlstate, ''), rows_after, coalesce(mode, ''), coalesce(mode_reason, ''), coalesce(called_by, '')
	  FROM agent_mv.refresh_history WHERE view_name = $1 ORDER BY started_at, id`, name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[historyRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type historyRow struct {
	ID         int64
	Status     string
	StartedAt  time.Time
	FinishedAt *time.Time
	Error      string
	SQLState   string
	RowsAfter  *int64
	Mode       string
	ModeReason string
	CalledBy   string
}

// scalar reads one value as the runtime role.
func scalar[T any](t testing.TB, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := q.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func dur(d time.Duration) *time.Duration { return &d }

// slowBody is a view body that takes about d to compute (a materialized CTE that sleeps),
// so refreshes of it can overlap in time.
func slowBody(d time.Duration, sel string) string {
	return "WITH pause AS MATERIALIZED (SELECT pg_catalog.pg_sleep(" + fmtSeconds(d) + ")) " + sel + ", pause"
}

func fmtSeconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
