package boundary_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const runtimePassword = "s3cret-Runtime_pw"

type env struct {
	db      *pgtest.DB
	n       boundary.Names
	admin   *pgxpool.Pool
	runtime string // runtime DSN over TCP
}

// setup bootstraps agentmv on a fresh database with base table public.orders.
func setup(t *testing.T) env {
	t.Helper()
	db := pgtest.NewDB(t)
	e := env{db: db, n: boundary.Names{Schema: "agent_mv", RuntimeRole: db.Prefix + "_runtime", OwnerRole: db.Prefix + "_owner"}}
	e.admin = db.Pool(t)
	e.runtime = db.URL(e.n.RuntimeRole, runtimePassword)
	db.Exec(t, `CREATE TABLE public.orders (id int PRIMARY KEY, day date NOT NULL, amount numeric NOT NULL, qty int NOT NULL DEFAULT 1);
INSERT INTO public.orders SELECT g, date '2026-01-01' + g % 10, g, 1 FROM generate_series(1, 100) g;`)
	inTx(t, e.admin, func(tx pgx.Tx) {
		if _, err := boundary.Bootstrap(context.Background(), tx, e.n, runtimePassword, revokePublic); err != nil {
			t.Fatalf("Bootstrap: %v", err)
		}
	})
	return e
}

// revokePublic is apply with materialize.yaml's public_privileges set to revoke both.
var revokePublic = &boundary.BootstrapOptions{RevokePublicTemporary: true, RevokePublicCreate: true}

func inTx(t *testing.T, pool *pgxpool.Pool, fn func(pgx.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	fn(tx)
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// addView creates a managed view over public.orders, as apply would.
func (e env) addView(t *testing.T, name, body string, indexes []boundary.Index, minInterval *time.Duration) {
	t.Helper()
	ctx := context.Background()
	inTx(t, e.admin, func(tx pgx.Tx) {
		if _, err := boundary.GrantSourcesToOwner(ctx, tx, e.n, []boundary.Relation{{Schema: "public", Name: "orders"}}); err != nil {
			t.Fatalf("GrantSourcesToOwner: %v", err)
		}
		if err := boundary.CreateView(ctx, tx, e.n, name, body, indexes); err != nil {
			t.Fatalf("CreateView: %v", err)
		}
		rec := boundary.ViewRecord{Name: name, Description: "test view", SQLHash: "h", Indexes: indexes, MinRefreshInterval: minInterval}
		if err := boundary.UpsertView(ctx, tx, e.n, rec); err != nil {
			t.Fatalf("UpsertView: %v", err)
		}
		if err := boundary.ReplaceLineage(ctx, tx, e.n, name, []string{"public.orders"}, nil); err != nil {
			t.Fatalf("ReplaceLineage: %v", err)
		}
	})
}

func (e env) refresh(t *testing.T, q boundary.Querier, name string) boundary.RefreshResult {
	t.Helper()
	r, err := boundary.RefreshView(context.Background(), q, e.n, name)
	if err != nil {
		t.Fatalf("refresh %s: %v", name, err)
	}
	return r
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestNamesValidate(t *testing.T) {
	tests := []struct {
		name  string
		n     boundary.Names
		wantE string
	}{
		{"defaults", boundary.DefaultNames(), ""},
		{"upper", boundary.Names{Schema: "Agent", RuntimeRole: "r", OwnerRole: "o"}, "unsafe target_schema"},
		{"quote", boundary.Names{Schema: "a", RuntimeRole: `r"x`, OwnerRole: "o"}, "unsafe runtime role"},
		{"same roles", boundary.Names{Schema: "a", RuntimeRole: "r", OwnerRole: "r"}, "must differ"},
		{"public schema", boundary.Names{Schema: "public", RuntimeRole: "r", OwnerRole: "o"}, "use a dedicated schema"},
		{"pg_ role", boundary.Names{Schema: "a", RuntimeRole: "pg_x", OwnerRole: "o"}, "reserved"},
		{"too long", boundary.Names{Schema: strings.Repeat("a", 64), RuntimeRole: "r", OwnerRole: "o"}, "63 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.n.Validate()
			if tt.wantE == "" && err != nil || tt.wantE != "" && (err == nil || !strings.Contains(err.Error(), tt.wantE)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantE)
			}
		})
	}
}

func TestScramVerifierFormat(t *testing.T) {
	v, err := boundary.ScramVerifier("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "SCRAM-SHA-256$4096:") || strings.Count(v, "$") != 2 || strings.Count(v, ":") != 2 {
		t.Fatalf("verifier %q has the wrong shape", v)
	}
	for _, bad := range []string{"", "pässword", "tab\there"} {
		if _, err := boundary.ScramVerifier(bad); err == nil {
			t.Errorf("ScramVerifier(%q) accepted", bad)
		}
	}
}

// TestBootstrapIdempotentAndSCRAM: a second Bootstrap changes nothing; the runtime role logs
// in over TCP with SCRAM; the plaintext never appears in any statement the client sent.
func TestBootstrapIdempotentAndSCRAM(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	n := boundary.Names{Schema: "mvs", RuntimeRole: db.Prefix + "_runtime", OwnerRole: db.Prefix + "_owner"}
	tracer := &sqlTracer{}
	cfg, err := pgx.ParseConfig(db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tracer = tracer
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	run := func(opts *boundary.BootstrapOptions) boundary.Result {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		res, err := boundary.Bootstrap(ctx, tx, n, runtimePassword, opts)
		if err != nil {
			t.Fatalf("Bootstrap: %v", err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := run(nil)
	if first.FromVersion != 0 || first.ToVersion != boundary.ExpectedVersion || len(first.Applied) != boundary.ExpectedVersion {
		t.Fatalf("first bootstrap = %+v", first)
	}
	if len(first.CreatedRoles) != 2 || !first.PasswordSet {
		t.Fatalf("first bootstrap roles = %+v", first)
	}
	second := run(nil)
	if second.FromVersion != boundary.ExpectedVersion || len(second.Applied) != 0 || len(second.CreatedRoles) != 0 ||
		second.PasswordSet || len(second.Changes) != 0 {
		t.Fatalf("second bootstrap was not a no-op: %+v", second)
	}
	for _, s := range tracer.sql {
		if strings.Contains(s, runtimePassword) {
			t.Fatalf("plaintext password sent to the server in: %s", s)
		}
	}

	var stored, method string
	if err := conn.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, n.RuntimeRole).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "SCRAM-SHA-256$4096:") {
		t.Fatalf("stored password %q is not a SCRAM verifier", stored)
	}
	rt, err := pgx.Connect(ctx, db.URL(n.RuntimeRole, runtimePassword))
	if err != nil {
		t.Fatalf("runtime login over TCP: %v", err)
	}
	defer rt.Close(ctx)
	// The server authenticated this TCP session with scram-sha-256 (pg_hba uses it for host lines).
	if err := conn.QueryRow(ctx, `SELECT coalesce((SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND auth_method LIKE 'scram%' LIMIT 1), 'md5-or-trust')`).Scan(&method); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, db.URL(n.RuntimeRole, "wrong")); err == nil && method == "scram-sha-256" {
		t.Fatal("login with a wrong password succeeded")
	}

	// Rotation only when asked.
	rot := run(&boundary.BootstrapOptions{RotatePassword: true})
	if !rot.PasswordSet {
		t.Fatalf("RotatePassword did not set the password: %+v", rot)
	}
	var after string
	if err := conn.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, n.RuntimeRole).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after == stored {
		t.Fatal("rotation kept the same verifier (salt must be fresh)")
	}
}

type sqlTracer struct{ sql []string }

func (s *sqlTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	s.sql = append(s.sql, d.SQL)
	for _, a := range d.Args {
		if v, ok := a.(string); ok {
			s.sql = append(s.sql, v)
		}
	}
	return ctx
}
func (s *sqlTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestMigrateFromOlderVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	n := boundary.Names{Schema: "agent_mv", RuntimeRole: db.Prefix + "_runtime", OwnerRole: db.Prefix + "_owner"}
	pool := db.Pool(t)
	// A seed-era install: lineage + history rows written by the old tool.
	inTx(t, pool, func(tx pgx.Tx) {
		res, err := boundary.Bootstrap(ctx, tx, n, runtimePassword, &boundary.BootstrapOptions{TargetVersion: 1})
		if err != nil {
			t.Fatal(err)
		}
		if res.ToVersion != 1 {
			t.Fatalf("ToVersion = %d, want 1", res.ToVersion)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO agent_mv.lineage VALUES ('old_view', 'table', 'public.t')`); err != nil {
			t.Fatal(err)
		}
	})
	var res boundary.Result
	inTx(t, pool, func(tx pgx.Tx) {
		var err error
		if res, err = boundary.Bootstrap(ctx, tx, n, runtimePassword, nil); err != nil {
			t.Fatal(err)
		}
	})
	var got []int
	for _, m := range res.Applied {
		got = append(got, m.Version)
	}
	if res.FromVersion != 1 || res.ToVersion != boundary.ExpectedVersion || len(got) != boundary.ExpectedVersion-1 || got[0] != 2 {
		t.Fatalf("upgrade = %+v", res)
	}
	reg, err := boundary.ReadRegistry(ctx, pool, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg) != 1 || reg[0].Name != "old_view" {
		t.Fatalf("seed allowlist not carried into the registry: %+v", reg)
	}
	var cols int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'agent_mv' AND table_name = 'refresh_history' AND column_name IN ('mode_reason', 'sqlstate', 'called_by')`).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if cols != 3 {
		t.Fatalf("refresh_history gained %d of 3 new columns", cols)
	}
	if v, _ := boundary.InstalledVersion(ctx, pool, n); v != boundary.ExpectedVersion {
		t.Fatalf("InstalledVersion = %d", v)
	}
}

func TestRefreshModes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	body := `SELECT day, sum(amount) AS revenue, count(*) AS n FROM public.orders GROUP BY day`
	e.addView(t, "plain", body, nil, nil)
	e.addView(t, "daily", body, []boundary.Index{{Columns: []string{"day"}, Unique: true}}, nil)
	e.addView(t, "partial", body, nil, nil)
	e.db.Exec(t, `SET ROLE `+e.n.OwnerRole+`; CREATE UNIQUE INDEX partial_day_idx ON agent_mv.partial (day) WHERE n > 0;
CREATE MATERIALIZED VIEW agent_mv.nodata AS `+body+` WITH NO DATA; CREATE UNIQUE INDEX nodata_day_idx ON agent_mv.nodata (day);
GRANT SELECT ON agent_mv.nodata TO `+e.n.RuntimeRole+`;`) // as apply grants it: refresh_view refreshes only views the caller may read
	inTx(t, e.admin, func(tx pgx.Tx) {
		if err := boundary.UpsertView(ctx, tx, e.n, boundary.ViewRecord{Name: "nodata"}); err != nil {
			t.Fatal(err)
		}
	})
	rt := e.db.PoolFor(t, e.runtime)
	tests := []struct {
		view, mode, reason string
	}{
		{"plain", "blocking", "no usable unique index"},
		{"daily", "concurrent", "unique index daily_day_idx"},
		{"partial", "blocking", "no usable unique index (partial index partial_day_idx has a WHERE clause)"},
		{"nodata", "blocking", "not populated yet"},
		{"nodata", "concurrent", "unique index nodata_day_idx"},
	}
	for _, tt := range tests {
		r := e.refresh(t, rt, tt.view)
		if r.Status != boundary.StatusSuccess || str(r.Mode) != tt.mode || str(r.ModeReason) != tt.reason {
			t.Errorf("%s: status %s mode %s reason %q, want success %s %q (error %s)", tt.view, r.Status, str(r.Mode), str(r.ModeReason), tt.mode, tt.reason, str(r.Error))
		}
		if r.RowsAfter == nil || *r.RowsAfter != 10 || r.StartedAt == nil || r.FinishedAt == nil || r.DurationMS == nil {
			t.Errorf("%s: result %+v lacks rows_after=10 or timings", tt.view, r)
		}
	}
	var rows []string
	hist, err := e.admin.Query(ctx, `SELECT concat_ws(':', view_name, status, mode, rows_after, called_by) FROM agent_mv.refresh_history ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	rows, err = pgx.CollectRows(hist, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(tests) || rows[0] != "plain:success:blocking:10:"+e.n.RuntimeRole {
		t.Fatalf("history = %v", rows)
	}
}

func TestRefreshRejections(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.addView(t, "v", `SELECT 1::bigint AS n`, nil, nil)
	rt := e.db.PoolFor(t, e.runtime)
	e.db.Exec(t, `CREATE MATERIALIZED VIEW public.unmanaged AS SELECT 1`)
	tests := []struct {
		name, msg, code string
	}{
		{strings.Repeat("x", 200), "view name too long", boundary.SQLStateNameTooLong},
		{"unmanaged", "unknown materialized view: unmanaged", boundary.SQLStateUnknownView},
		{"public.orders", "unknown materialized view: public.orders", boundary.SQLStateUnknownView},
		{"x; drop table t", "unknown materialized view: x; drop table t", boundary.SQLStateUnknownView},
	}
	for _, tt := range tests {
		_, err := boundary.RefreshView(context.Background(), rt, e.n, tt.name)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Message != tt.msg || pgErr.Code != tt.code {
			t.Errorf("refresh %.20q: err %v, want %q (%s)", tt.name, err, tt.msg, tt.code)
		}
	}
	// A view with no base tables is refreshable.
	if r := e.refresh(t, rt, "v"); r.Status != boundary.StatusSuccess || *r.RowsAfter != 1 {
		t.Fatalf("refresh v = %+v", r)
	}
}

// TestRefreshFailureIsDurable: a failing REFRESH keeps the old contents and leaves a failed
// history row even when the caller commits normally.
func TestRefreshFailureIsDurable(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	e.addView(t, "ratio", `SELECT id, amount / qty AS unit FROM public.orders`, []boundary.Index{{Columns: []string{"id"}, Unique: true}}, nil)
	e.addView(t, "dup", `SELECT day, amount FROM public.orders WHERE id <= 3`, []boundary.Index{{Columns: []string{"day"}, Unique: true}}, nil)
	e.db.Exec(t, `UPDATE public.orders SET qty = 0 WHERE id = 7; UPDATE public.orders SET day = date '2030-01-01' WHERE id <= 2`)
	rt := e.db.PoolFor(t, e.runtime)
	for _, tt := range []struct{ view, state string }{{"ratio", "22012"}, {"dup", "23505"}} {
		r := e.refresh(t, rt, tt.view)
		if r.Status != boundary.StatusFailed || str(r.SQLState) != tt.state || r.Error == nil {
			t.Fatalf("%s: result %+v, want failed with SQLSTATE %s", tt.view, r, tt.state)
		}
		var status, errText, state string
		err := e.admin.QueryRow(ctx, `SELECT status, error, sqlstate FROM agent_mv.refresh_history WHERE view_name = $1 ORDER BY id DESC LIMIT 1`, tt.view).Scan(&status, &errText, &state)
		if err != nil || status != "failed" || state != tt.state || errText != *r.Error {
			t.Fatalf("%s: history row = %s %q %s (%v)", tt.view, status, errText, state, err)
		}
	}
	var n int
	if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM agent_mv.ratio`).Scan(&n); err != nil || n != 100 {
		t.Fatalf("ratio lost its previous contents: %d rows (%v)", n, err)
	}
}

func TestRefreshBusyAndFresh(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	minute := time.Minute
	e.addView(t, "slow", `SELECT 1::bigint AS n`, nil, nil)
	e.addView(t, "limited", `SELECT 1::bigint AS n`, nil, &minute)
	rt := e.db.PoolFor(t, e.runtime)

	holder, err := e.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('agentmv:' || $1::text), hashtext($2::text))`, e.n.Schema, "slow"); err != nil {
		t.Fatal(err)
	}
	running, err := boundary.RunningRefreshes(ctx, rt, e.n)
	if err != nil || len(running) != 1 || running["slow"].PID == 0 {
		t.Fatalf("RunningRefreshes = %v, %v", running, err)
	}
	if r := e.refresh(t, rt, "slow"); r.Status != boundary.StatusBusy {
		t.Fatalf("refresh while locked = %+v, want busy", r)
	}
	holder.Rollback(ctx)
	if r := e.refresh(t, rt, "slow"); r.Status != boundary.StatusSuccess {
		t.Fatalf("refresh after unlock = %+v", r)
	}

	if r := e.refresh(t, rt, "limited"); r.Status != boundary.StatusSuccess {
		t.Fatalf("first refresh = %+v", r)
	}
	if r := e.refresh(t, rt, "limited"); r.Status != boundary.StatusFresh || r.FinishedAt == nil {
		t.Fatalf("second refresh within min_refresh_interval = %+v, want fresh", r)
	}
	var hist int
	if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM agent_mv.refresh_history WHERE view_name = 'limited'`).Scan(&hist); err != nil || hist != 1 {
		t.Fatalf("fresh answer wrote history: %d rows", hist)
	}
}

func TestPublicCannotExecute(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.addView(t, "v", `SELECT 1::bigint AS n`, nil, nil)
	// A role that was never granted anything; even with USAGE on the schema it may not execute.
	dsn := e.db.CreateLoginRole(t, e.db.Prefix+"_stranger", "pw")
	e.db.Exec(t, `GRANT USAGE ON SCHEMA agent_mv TO `+e.db.Prefix+`_stranger`)
	_, err := boundary.RefreshView(context.Background(), e.db.PoolFor(t, dsn), e.n, "v")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Fatalf("stranger refresh: %v, want permission denied (42501)", err)
	}
}

func TestDependentsAndCatalogSources(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	e.db.Exec(t, `CREATE VIEW public.big_orders AS SELECT * FROM public.orders WHERE amount > 50`)
	inTx(t, e.admin, func(tx pgx.Tx) {
		rels := []boundary.Relation{{Schema: "public", Name: "orders"}, {Schema: "public", Name: "big_orders"}}
		if _, err := boundary.GrantSourcesToOwner(ctx, tx, e.n, rels); err != nil {
			t.Fatal(err)
		}
		// Trailing semicolon and whitespace are tolerated.
		if err := boundary.CreateView(ctx, tx, e.n, "base", `SELECT o.id, b.amount FROM public.orders o JOIN public.big_orders b USING (id);  `, nil); err != nil {
			t.Fatal(err)
		}
		if err := boundary.CreateView(ctx, tx, e.n, "top", `SELECT id FROM agent_mv.base WHERE amount > 90`, nil); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"base", "top"} {
			if err := boundary.UpsertView(ctx, tx, e.n, boundary.ViewRecord{Name: v}); err != nil {
				t.Fatal(err)
			}
		}
	})
	// A second statement cannot ride along in a body (extended protocol).
	tx, err := e.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = boundary.CreateView(ctx, tx, e.n, "evil", `SELECT 1; DROP TABLE public.orders`, nil)
	tx.Rollback(ctx)
	if err == nil || !strings.Contains(err.Error(), "multiple commands") {
		t.Fatalf("stacked statement in body: %v", err)
	}
	e.db.Exec(t, `CREATE VIEW public.report AS SELECT * FROM agent_mv.base`)
	var deps []boundary.Dependent
	deps, err = boundary.DependentsOf(ctx, e.admin, e.n, "base")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, d := range deps {
		got[d.Schema+"."+d.Name+":"+d.Kind] = d.Managed
	}
	if len(got) != 2 || got["agent_mv.top:m"] != true || got["public.report:v"] != false {
		t.Fatalf("DependentsOf(base) = %+v", deps)
	}
	src, err := boundary.CatalogSources(ctx, e.admin, e.n.Schema, "base")
	if err != nil {
		t.Fatal(err)
	}
	if len(src) != 2 || src[0].String() != "public.big_orders" || src[0].Kind != "v" || src[1].String() != "public.orders" || src[1].Kind != "r" {
		t.Fatalf("CatalogSources(base) = %+v", src)
	}
	// Owner grants are exactly the sources: dropping big_orders from the set revokes it.
	inTx(t, e.admin, func(tx pgx.Tx) {
		ch, err := boundary.GrantSourcesToOwner(ctx, tx, e.n, []boundary.Relation{{Schema: "public", Name: "orders"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Revoked) != 1 || ch.Revoked[0].Name != "big_orders" || len(ch.Granted) != 0 {
			t.Fatalf("GrantSourcesToOwner change = %+v", ch)
		}
	})
}

func TestDoctor(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	e.addView(t, "daily", `SELECT day, sum(amount) AS revenue FROM public.orders GROUP BY day`, []boundary.Index{{Columns: []string{"day"}, Unique: true}}, nil)
	managed := boundary.DoctorOptions{Managed: []string{"daily"}, RevokeTemporary: true}

	rep := boundary.Doctor(ctx, e.admin, e.runtime, e.n, managed)
	if !rep.OK() {
		t.Fatalf("doctor not green on a good setup:\n%s", rep)
	}
	if !strings.Contains(rep.String(), "✓ access boundary verified (runtime role cannot read base tables") {
		t.Fatalf("missing seed line:\n%s", rep)
	}
	js, err := json.Marshal(rep)
	if err != nil || !strings.HasPrefix(string(js), `{"ok":true,"checks":[{"name":`) {
		t.Fatalf("report JSON = %s (%v)", js, err)
	}

	tests := []struct {
		name, breakSQL, fixSQL, want string
	}{
		{"public select", `GRANT SELECT ON public.orders TO PUBLIC`, `REVOKE SELECT ON public.orders FROM PUBLIC`,
			"✗ access boundary FAILED: runtime role can read public.orders"},
		{"column select", `GRANT SELECT (amount) ON public.orders TO ` + e.n.RuntimeRole, `REVOKE SELECT (amount) ON public.orders FROM ` + e.n.RuntimeRole,
			"✗ access boundary FAILED: runtime role can read public.orders"},
		{"bypassrls", `ALTER ROLE ` + e.n.RuntimeRole + ` BYPASSRLS`, `ALTER ROLE ` + e.n.RuntimeRole + ` NOBYPASSRLS`,
			"has BYPASSRLS"},
		{"read all data", `GRANT pg_read_all_data TO ` + e.n.RuntimeRole, `REVOKE pg_read_all_data FROM ` + e.n.RuntimeRole,
			"is a member of pg_read_all_data"},
		{"temp", `GRANT TEMPORARY ON DATABASE ` + e.db.Name + ` TO PUBLIC`, `REVOKE TEMPORARY ON DATABASE ` + e.db.Name + ` FROM PUBLIC`,
			"✗ PUBLIC has TEMPORARY on database " + e.db.Name + " again although materialize.yaml sets public_privileges.revoke_temporary"},
		{"public execute", `GRANT EXECUTE ON FUNCTION agent_mv.refresh_view(text) TO PUBLIC`, `REVOKE EXECUTE ON FUNCTION agent_mv.refresh_view(text) FROM PUBLIC`,
			"PUBLIC can EXECUTE it"},
		{"lost view grant", `REVOKE SELECT ON agent_mv.daily FROM ` + e.n.RuntimeRole, `GRANT SELECT ON agent_mv.daily TO ` + e.n.RuntimeRole,
			"runtime role cannot read agent_mv schema"},
		{"unpopulated", `SET ROLE ` + e.n.OwnerRole + `; REFRESH MATERIALIZED VIEW agent_mv.daily WITH NO DATA`, `SET ROLE ` + e.n.OwnerRole + `; REFRESH MATERIALIZED VIEW agent_mv.daily`,
			"⚠ views not populated yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.db.Exec(t, tt.breakSQL)
			defer e.db.Exec(t, tt.fixSQL)
			rep := boundary.Doctor(ctx, e.admin, e.runtime, e.n, managed)
			if !strings.Contains(rep.String(), tt.want) {
				t.Fatalf("doctor after %q lacks %q:\n%s", tt.breakSQL, tt.want, rep)
			}
			if strings.HasPrefix(tt.want, "⚠") != rep.OK() {
				t.Fatalf("OK() = %v after %q", rep.OK(), tt.breakSQL)
			}
		})
	}
	rep = boundary.Doctor(ctx, e.admin, e.db.URL(e.n.RuntimeRole, "wrong"), e.n, managed)
	if rep.OK() || !strings.Contains(rep.String(), "runtime role cannot log in") {
		t.Fatalf("wrong password not reported:\n%s", rep)
	}
}
