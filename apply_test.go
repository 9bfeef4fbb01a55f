package agentmv_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/examples/demo"
	"github.com/agentmv/agentmv/internal/pgtest"
	"github.com/agentmv/agentmv/internal/testutil"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// project is a test project: a directory with materialize.yaml and SQL files bound to a fresh
// database whose roles are unique to the test.
type project struct {
	t        *testing.T
	db       *pgtest.DB
	dir      string
	settings agentmv.Settings
	admin    *pgxpool.Pool
}

const runtimePassword = "rt-secret-pw"

func newProject(t *testing.T, seed string) *project {
	t.Helper()
	db := pgtest.NewDB(t)
	if seed != "" {
		db.Exec(t, seed)
	}
	pr := &project{t: t, db: db, dir: t.TempDir(), admin: db.Pool(t)}
	pr.settings = agentmv.Settings{
		DatabaseURL:     db.AdminURL,
		RuntimeURL:      db.URL(db.Prefix+"_runtime", runtimePassword),
		RuntimePassword: runtimePassword,
		RuntimeRole:     db.Prefix + "_runtime",
		OwnerRole:       db.Prefix + "_owner",
	}
	if err := os.MkdirAll(filepath.Join(pr.dir, "materialize"), 0o755); err != nil {
		t.Fatal(err)
	}
	return pr
}

// demoProject loads the demo shop and its three views.
func demoProject(t *testing.T) *project {
	pr := newProject(t, smallShop)
	if err := demo.WriteProject(pr.dir); err != nil {
		t.Fatal(err)
	}
	return pr
}

// smallShop is the demo's schema with a handful of rows (the real seed is large).
const smallShop = `
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL);
CREATE TABLE products (id serial PRIMARY KEY, sku text NOT NULL UNIQUE, name text NOT NULL, price_cents int NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users(id), created_at timestamptz NOT NULL);
CREATE TABLE order_items (order_id int NOT NULL REFERENCES orders(id), product_id int NOT NULL REFERENCES products(id), qty int NOT NULL, PRIMARY KEY (order_id, product_id));
CREATE TABLE payments (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders(id), amount_cents int NOT NULL, paid_at timestamptz NOT NULL);
INSERT INTO users (email, created_at) VALUES ('alice@example.com', '2025-10-01'), ('bob@example.com', '2025-11-01'), ('carol@example.com', '2025-12-01');
INSERT INTO products (sku, name, price_cents) VALUES ('SKU-001', 'Mouse', 2500), ('SKU-002', 'Keyboard', 9900);
INSERT INTO orders (user_id, created_at) VALUES (1, '2025-12-20'), (2, '2025-12-25'), (3, '2025-11-01');
INSERT INTO order_items VALUES (1, 1, 2), (2, 2, 1), (3, 1, 1);
INSERT INTO payments (order_id, amount_cents, paid_at) VALUES (1, 5000, '2025-12-20'), (2, 9900, '2025-12-25'), (3, 2500, '2025-11-01');
`

func (pr *project) write(name, content string) {
	pr.t.Helper()
	if err := os.WriteFile(filepath.Join(pr.dir, name), []byte(content), 0o644); err != nil {
		pr.t.Fatal(err)
	}
}

// edit replaces old with new in a project file; old must occur, or the edit would silently
// leave the file as it was and the test would prove nothing.
func (pr *project) edit(name, old, new string) {
	pr.t.Helper()
	body := string(testutil.ReadFile(pr.t, filepath.Join(pr.dir, name)))
	if !strings.Contains(body, old) {
		pr.t.Fatalf("%s does not contain %q:\n%s", name, old, body)
	}
	pr.write(name, strings.Replace(body, old, new, 1))
}

// config loads the project's materialize.yaml (for edits through the config API).
func (pr *project) config() *agentmv.Config {
	pr.t.Helper()
	cfg, err := agentmv.LoadConfig(filepath.Join(pr.dir, "materialize.yaml"))
	if err != nil {
		pr.t.Fatalf("load materialize.yaml: %v", err)
	}
	return cfg
}

func (pr *project) open() *agentmv.Project {
	pr.t.Helper()
	p, err := agentmv.Open(context.Background(), agentmv.Options{
		ConfigPath: filepath.Join(pr.dir, "materialize.yaml"),
		DotenvPath: "-",
		Overrides:  pr.settings,
		Environ:    func(string) (string, bool) { return "", false },
	})
	if err != nil {
		pr.t.Fatalf("open: %v", err)
	}
	pr.t.Cleanup(p.Close)
	return p
}

func (pr *project) apply() *agentmv.ApplyResult {
	pr.t.Helper()
	res, err := pr.open().Apply(context.Background(), agentmv.ApplyOptions{})
	if err != nil {
		pr.t.Fatalf("apply: %v", err)
	}
	return res
}

// oids returns the OID of every relation in agent_mv (views, indexes, tables).
func (pr *project) oids() map[string]uint32 {
	pr.t.Helper()
	rows, err := pr.admin.Query(context.Background(), `SELECT c.relname, c.oid FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'agent_mv'`)
	if err != nil {
		pr.t.Fatal(err)
	}
	out := map[string]uint32{}
	var name string
	var oid uint32
	if _, err := pgx.ForEachRow(rows, []any{&name, &oid}, func() error { out[name] = oid; return nil }); err != nil {
		pr.t.Fatal(err)
	}
	return out
}

// snapshot captures the managed state that must not change when an apply fails.
func (pr *project) snapshot() string {
	pr.t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT string_agg(c.relname || ':' || c.oid || ':' || c.relkind::text, ',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'agent_mv'`,
		`SELECT coalesce(string_agg(name || ':' || sql_hash || ':' || index_spec::text, ',' ORDER BY name), '') FROM agent_mv.views`,
		`SELECT coalesce(string_agg(view_name || ':' || source_kind || ':' || source_name, ',' ORDER BY 1), '') FROM agent_mv.lineage`,
	} {
		var s *string
		if err := pr.admin.QueryRow(context.Background(), q).Scan(&s); err != nil {
			pr.t.Fatalf("%s: %v", q, err)
		}
		if s != nil {
			b.WriteString(*s)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestApplyDemoTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	res := pr.apply()
	if got := len(res.Plan.CreateOrder); got != 3 {
		t.Fatalf("first apply created %d views, want 3: %s", got, res.Plan)
	}
	// customer_rollup before top_customers_30d (a view on a view).
	up, down := slices.Index(res.Plan.CreateOrder, "customer_rollup"), slices.Index(res.Plan.CreateOrder, "top_customers_30d")
	if up < 0 || down < 0 || up > down {
		t.Errorf("create order %v: want customer_rollup before its dependent top_customers_30d", res.Plan.CreateOrder)
	}
	if len(res.Drift) != 0 {
		t.Errorf("lineage drift on a fresh apply: %v", res.Drift)
	}
	before := pr.oids()
	res = pr.apply()
	if res.Plan.Changes() {
		t.Errorf("second apply is not a no-op:\n%s", res.Plan)
	}
	if after := pr.oids(); !equalMaps(before, after) {
		t.Errorf("second apply changed OIDs:\nbefore %v\nafter  %v", before, after)
	}
	// sources written back to the YAML, seed format.
	cfg, err := agentmv.LoadConfig(filepath.Join(pr.dir, "materialize.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := cfg.View("top_customers_30d")
	if got := strings.Join(v.Sources, ","); got != "agent_mv.customer_rollup" {
		t.Errorf("top_customers_30d sources = %q", got)
	}
	v, _ = cfg.View("customer_rollup")
	if got := strings.Join(v.Sources, ","); got != "public.orders,public.payments,public.users" {
		t.Errorf("customer_rollup sources = %q", got)
	}
}

func TestApplyUpstreamChangeRebuildsDependents(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	before := pr.oids()
	pr.edit("materialize/customer_rollup.sql", "count(DISTINCT o.id)", "count(o.id)")
	res := pr.apply()
	want := map[string]agentmv.Action{
		"customer_rollup":   agentmv.ActionRebuild,
		"top_customers_30d": agentmv.ActionRebuildUpstream,
		"daily_revenue":     agentmv.ActionUnchanged,
	}
	for v, a := range want {
		if s, _ := res.Plan.Step(v); s.Action != a {
			t.Errorf("%s: action %s, want %s", v, s.Action, a)
		}
	}
	after := pr.oids()
	if before["daily_revenue"] != after["daily_revenue"] {
		t.Error("daily_revenue was rebuilt although nothing it reads changed")
	}
	if before["customer_rollup"] == after["customer_rollup"] || before["top_customers_30d"] == after["top_customers_30d"] {
		t.Error("customer_rollup and its dependent were not rebuilt")
	}
}

func TestApplyIndexOnlyChange(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	before := pr.oids()
	// One more (non-unique) index on daily_revenue, written through the config API.
	cfg := pr.config()
	v, ok := cfg.View("daily_revenue")
	if !ok || len(v.Indexes) != 1 {
		t.Fatalf("demo daily_revenue: %+v (found %v), want one index", v, ok)
	}
	v.Indexes = append(v.Indexes, agentmv.IndexConfig{Columns: []string{"sku"}})
	if err := cfg.RemoveView("daily_revenue"); err != nil {
		t.Fatal(err)
	}
	if err := pr.config().AddViews(v); err != nil {
		t.Fatal(err)
	}
	res := pr.apply()
	if s, _ := res.Plan.Step("daily_revenue"); s.Action != agentmv.ActionReindex {
		t.Fatalf("daily_revenue: action %s, want reindex\n%s", s.Action, res.Plan)
	}
	after := pr.oids()
	if before["daily_revenue"] != after["daily_revenue"] {
		t.Error("an index-only change rebuilt the view")
	}
	if _, ok := after["daily_revenue_sku_idx"]; !ok {
		t.Errorf("new index missing: %v", after)
	}
	if before["daily_revenue_day_product_id_idx"] != after["daily_revenue_day_product_id_idx"] {
		t.Error("the unchanged index was rebuilt")
	}
}

func TestApplyRemoveTwoDependentViews(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	for _, name := range []string{"customer_rollup", "top_customers_30d"} {
		if err := pr.config().RemoveView(name); err != nil {
			t.Fatal(err)
		}
	}
	res := pr.apply()
	if got := strings.Join(res.Plan.Drops(), ","); got != "customer_rollup,top_customers_30d" {
		t.Fatalf("drops = %s\n%s", got, res.Plan)
	}
	if got := strings.Join(res.Plan.DropOrder, ","); got != "top_customers_30d,customer_rollup" {
		t.Errorf("drop order = %s, want dependents first", got)
	}
	oids := pr.oids()
	if _, ok := oids["customer_rollup"]; ok {
		t.Error("customer_rollup still exists")
	}
	var n int
	if err := pr.admin.QueryRow(context.Background(), "SELECT count(*) FROM agent_mv.views").Scan(&n); err != nil || n != 1 {
		t.Errorf("registry rows = %d (%v), want 1", n, err)
	}
}

func TestApplyRefusesUnmanagedDependent(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	if _, err := pr.admin.Exec(context.Background(), "CREATE VIEW public.vip AS SELECT * FROM agent_mv.customer_rollup"); err != nil {
		t.Fatal(err)
	}
	before := pr.snapshot()
	pr.edit("materialize/customer_rollup.sql", "count(DISTINCT o.id)", "count(o.id)")
	_, err := pr.open().Apply(context.Background(), agentmv.ApplyOptions{})
	var blocked *agentmv.BlockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("apply: %v, want BlockedError", err)
	}
	if !strings.Contains(err.Error(), "public.vip") || !strings.Contains(err.Error(), "Nothing was changed") {
		t.Errorf("message does not name the dependent or say nothing changed: %v", err)
	}
	if after := pr.snapshot(); after != before {
		t.Errorf("a refused apply changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

func TestApplySyntaxErrorInViewThreeOfFiveChangesNothing(t *testing.T) {
	t.Parallel()
	pr := newProject(t, smallShop)
	pr.write("materialize.yaml", `version: 1
target_schema: agent_mv
views:
  - {name: v1, sql_file: materialize/v1.sql, description: one}
  - {name: v2, sql_file: materialize/v2.sql, description: two}
  - {name: v3, sql_file: materialize/v3.sql, description: three}
  - {name: v4, sql_file: materialize/v4.sql, description: four}
  - {name: v5, sql_file: materialize/v5.sql, description: five}
`)
	for i, body := range []string{"SELECT id FROM public.users", "SELECT id FROM public.orders", "SELECT 1 AS n", "SELECT sku FROM public.products", "SELECT id FROM public.payments"} {
		pr.write("materialize/v"+string(rune('1'+i))+".sql", body)
	}
	pr.apply()
	before := pr.snapshot()
	pr.write("materialize/v1.sql", "SELECT email FROM public.users")
	pr.write("materialize/v3.sql", "SELEC 1 AS n")
	_, err := pr.open().Apply(context.Background(), agentmv.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "v3") {
		t.Fatalf("apply with a syntax error: %v, want an error naming v3", err)
	}
	if after := pr.snapshot(); after != before {
		t.Errorf("failed apply changed the database:\nbefore %s\nafter  %s", before, after)
	}
	// An error at execution time (not parse time) also rolls back everything.
	pr.write("materialize/v3.sql", "SELECT 1/0 AS n")
	_, err = pr.open().Apply(context.Background(), agentmv.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "v3") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("apply with a failing view: %v", err)
	}
	if after := pr.snapshot(); after != before {
		t.Errorf("failed apply changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

func TestViewWithoutBaseTablesIsManagedAndRefreshable(t *testing.T) {
	t.Parallel()
	pr := newProject(t, "")
	pr.write("materialize.yaml", "version: 1\ntarget_schema: agent_mv\nviews:\n  - name: one\n    sql_file: materialize/one.sql\n    description: constant\n")
	pr.write("materialize/one.sql", "SELECT 1::bigint AS n")
	pr.apply()
	p := pr.open()
	st, err := p.Status(context.Background())
	if err != nil || len(st) != 1 || st[0].Name != "one" {
		t.Fatalf("status: %v %+v", err, st)
	}
	res, err := p.Refresh(context.Background(), "one")
	if err != nil || res.Status != "success" || res.RowsAfter == nil || *res.RowsAfter != 1 {
		t.Fatalf("refresh: %+v %v", res, err)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	res, err := pr.open().Apply(context.Background(), agentmv.ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || len(res.Plan.CreateOrder) != 3 {
		t.Errorf("dry run result: %+v", res)
	}
	var exists bool
	if err := pr.admin.QueryRow(context.Background(), "SELECT to_regnamespace('agent_mv') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Errorf("dry run left schema agent_mv behind (exists=%v, err=%v)", exists, err)
	}
	for _, v := range pr.config().Views {
		if len(v.Sources) != 0 {
			t.Errorf("dry run wrote sources to the YAML: %s: %v", v.Name, v.Sources)
		}
	}
}

func TestDropViewAndDependents(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	p := pr.open()
	if _, err := p.Drop(context.Background(), "nope"); !errors.Is(err, agentmv.ErrUnknownView) {
		t.Errorf("drop unknown: %v", err)
	}
	plan, err := p.Drop(context.Background(), "customer_rollup")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Order, ","); got != "top_customers_30d,customer_rollup" {
		t.Errorf("drop order %s", got)
	}
	cfg, err := agentmv.LoadConfig(filepath.Join(pr.dir, "materialize.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Views) != 1 || cfg.Views[0].Name != "daily_revenue" {
		t.Errorf("YAML after drop has %d views", len(cfg.Views))
	}
	if _, err := os.Stat(filepath.Join(pr.dir, "materialize", "customer_rollup.sql")); err != nil {
		t.Errorf("drop removed the SQL file: %v", err)
	}
	// Applying the edited YAML again is a no-op.
	if res := pr.apply(); res.Plan.Changes() {
		t.Errorf("apply after drop is not a no-op:\n%s", res.Plan)
	}
}

func equalMaps(a, b map[string]uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestStatusAfterApply: a freshly created view counts as refreshed (its data was loaded WITH
// DATA by apply), so it is not stale and status says when and how many rows.
func TestStatusAfterApply(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	st, err := pr.open().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range st {
		names = append(names, v.Name)
	}
	if want := []string{"customer_rollup", "daily_revenue", "top_customers_30d"}; !slices.Equal(names, want) {
		t.Fatalf("status lists %v, want %v", names, want)
	}
	for _, v := range st {
		if v.LastStatus != "success" || v.LastSuccessAt == nil || v.Stale || v.LastRowsAfter == nil || !v.Populated {
			t.Errorf("%s after apply: %+v", v.Name, v)
		}
	}
	if rows := st[0].LastRowsAfter; rows == nil || *rows != 3 {
		t.Errorf("customer_rollup rows_after = %v, want 3 (one row per user)", rows)
	}
}

// TestApplyReusesUnchangedFiles: a file byte-identical to the last apply is not parsed again;
// its recorded lineage is reused (the view's dependencies are fixed by OID). Renaming a base
// table proves it: the view keeps working and apply stays a no-op, while any edit to the file
// makes apply parse it and report the missing table.
func TestApplyReusesUnchangedFiles(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply()
	if _, err := pr.admin.Exec(context.Background(), "ALTER TABLE public.users RENAME TO people"); err != nil {
		t.Fatal(err)
	}
	res := pr.apply()
	if res.Plan.Changes() {
		t.Fatalf("apply after renaming a base table is not a no-op:\n%s", res.Plan)
	}
	body := testutil.ReadFile(t, filepath.Join(pr.dir, "materialize", "customer_rollup.sql"))
	pr.write("materialize/customer_rollup.sql", string(body)+"\n-- edited\n")
	_, err := pr.open().Apply(context.Background(), agentmv.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "customer_rollup") || !strings.Contains(err.Error(), "public.users does not exist") {
		t.Fatalf("apply of an edited file over a renamed table: %v", err)
	}
}

// comments reads the Postgres comments of an agent_mv view and of its described columns.
func (pr *project) comments(view string) (string, map[string]string) {
	pr.t.Helper()
	ctx := context.Background()
	var viewComment *string
	if err := pr.admin.QueryRow(ctx, `SELECT obj_description(('agent_mv.' || $1)::regclass, 'pg_class')`, view).Scan(&viewComment); err != nil {
		pr.t.Fatal(err)
	}
	rows, err := pr.admin.Query(ctx, `SELECT a.attname::text, col_description(a.attrelid, a.attnum) FROM pg_attribute a
		WHERE a.attrelid = ('agent_mv.' || $1)::regclass AND a.attnum > 0 AND col_description(a.attrelid, a.attnum) IS NOT NULL`, view)
	if err != nil {
		pr.t.Fatal(err)
	}
	cols := map[string]string{}
	var name, comment string
	if _, err := pgx.ForEachRow(rows, []any{&name, &comment}, func() error { cols[name] = comment; return nil }); err != nil {
		pr.t.Fatal(err)
	}
	if viewComment == nil {
		return "", cols
	}
	return *viewComment, cols
}

// TestApplyColumnDescriptions: the columns: key becomes Postgres comments (and the description
// the view's comment); changing only descriptions is an update that rebuilds nothing; a
// description of a column the view lacks is refused before anything changes.
func TestApplyColumnDescriptions(t *testing.T) {
	pr := demoProject(t)
	pr.apply()
	desc, cols := pr.comments("customer_rollup")
	if desc != "One row per customer: order count, lifetime spend, last order." {
		t.Errorf("view comment = %q", desc)
	}
	want := map[string]string{
		"customer_id":          "users.id of the customer",
		"order_count":          "Orders the customer placed, paid or not",
		"lifetime_value_cents": "Sum of the customer's payments, in cents (0 when none)",
		"last_order_at":        "When the customer's latest order was placed (NULL when none)",
	}
	if !reflect.DeepEqual(cols, want) {
		t.Errorf("column comments = %v, want %v", cols, want)
	}
	if _, cols := pr.comments("top_customers_30d"); len(cols) != 0 {
		t.Errorf("top_customers_30d has no columns: key but column comments %v", cols)
	}

	// Only descriptions change: one view's column meaning, another's new one, one removed.
	pr.edit("materialize.yaml", "order_count: Orders the customer placed, paid or not", "order_count: Distinct orders, paid or not")
	pr.edit("materialize.yaml", "      customer_id: users.id of the customer\n", "")
	pr.edit("materialize.yaml", "top_customers_30d\n    sql_file: materialize/top_customers_30d.sql\n",
		"top_customers_30d\n    sql_file: materialize/top_customers_30d.sql\n    columns:\n      email: \"Login e-mail; it's unique\"\n")
	before := pr.oids()
	plan, err := pr.open().Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for v, a := range map[string]agentmv.Action{"customer_rollup": agentmv.ActionUpdate, "top_customers_30d": agentmv.ActionUpdate, "daily_revenue": agentmv.ActionUnchanged} {
		if s, _ := plan.Step(v); s.Action != a {
			t.Errorf("plan %s: %s (%s), want %s", v, s.Action, s.Reason, a)
		}
	}
	if len(plan.CreateOrder) != 0 || len(plan.DropOrder) != 0 {
		t.Errorf("a description-only change rebuilds %v, drops %v", plan.CreateOrder, plan.DropOrder)
	}
	pr.apply()
	if after := pr.oids(); !equalMaps(before, after) {
		t.Errorf("a description-only change changed OIDs:\nbefore %v\nafter  %v", before, after)
	}
	_, cols = pr.comments("customer_rollup")
	delete(want, "customer_id")
	want["order_count"] = "Distinct orders, paid or not"
	if !reflect.DeepEqual(cols, want) {
		t.Errorf("after the edit, column comments = %v, want %v", cols, want)
	}
	if _, cols := pr.comments("top_customers_30d"); !reflect.DeepEqual(cols, map[string]string{"email": "Login e-mail; it's unique"}) {
		t.Errorf("top_customers_30d column comments = %v", cols)
	}
	if res := pr.apply(); res.Plan.Changes() {
		t.Errorf("apply after the comment update is not a no-op:\n%s", res.Plan)
	}

	// A column the view does not have: unchanged SQL (checked against the catalog) and
	// changed SQL (checked against the parsed SELECT) both fail with the view and column.
	for _, tc := range []struct{ name, file, old, new string }{
		{"unchanged view", "materialize.yaml", "order_count: Distinct orders", "order_total: Distinct orders"},
		{"changed view", "materialize/daily_revenue.sql", "sum(oi.qty)                         AS units_sold", "sum(oi.qty) AS units"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := testutil.ReadFile(t, filepath.Join(pr.dir, tc.file))
			defer pr.write(tc.file, string(body))
			pr.edit(tc.file, tc.old, tc.new)
			snap := pr.snapshot()
			_, err := pr.open().Apply(context.Background(), agentmv.ApplyOptions{})
			var uc *boundary.UnknownColumnError
			if !errors.As(err, &uc) || !strings.Contains(err.Error(), "materialize.yaml line") {
				t.Fatalf("apply error %v, want an UnknownColumnError with the file and line", err)
			}
			if tc.name == "unchanged view" && (uc.View != "customer_rollup" || uc.Column != "order_total") ||
				tc.name == "changed view" && (uc.View != "daily_revenue" || uc.Column != "units_sold") {
				t.Errorf("error names view %q column %q: %v", uc.View, uc.Column, err)
			}
			if !slices.Contains(uc.Columns, "order_count") && !slices.Contains(uc.Columns, "units") {
				t.Errorf("error lists columns %v", uc.Columns)
			}
			if pr.snapshot() != snap {
				t.Error("a refused apply changed the database")
			}
		})
	}
}
