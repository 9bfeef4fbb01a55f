package mcpclient

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/pgtest"
)

// RuntimePassword is the runtime role's password in the fixture.
const RuntimePassword = "Runtime-pw_42"

// Env is a database with agentmv installed and four managed views.
type Env struct {
	DB         *pgtest.DB
	Names      boundary.Names
	Admin      *pgxpool.Pool
	RuntimeURL string // the runtime role over TCP with a password
}

// View bodies of the fixture. customer_rollup has a unique index (concurrent refresh);
// top_customers reads customer_rollup (a view on a view); fragile fails to refresh once
// public.divisor holds 0. Column meanings (the columns: key of materialize.yaml) become
// column comments.
var meanings = map[string]map[string]string{
	"customer_rollup": {"orders": "Number of orders the customer placed", "revenue": "Sum of the order amounts, in euros"},
}

var views = []struct {
	name, body string
	tables     []string
	upstream   []string
	indexes    []boundary.Index
	columns    []boundary.ColumnEdge
}{
	{"customer_rollup", `SELECT c.id AS customer_id, c.name, count(o.id) AS orders, coalesce(sum(o.amount), 0) AS revenue
  FROM public.customers c LEFT JOIN public.orders o ON o.customer_id = c.id GROUP BY c.id, c.name`,
		[]string{"public.customers", "public.orders"}, nil,
		[]boundary.Index{{Columns: []string{"customer_id"}, Unique: true}},
		[]boundary.ColumnEdge{{ViewColumn: "customer_id", SourceSchema: "public", SourceRelation: "customers", SourceColumn: "id"},
			{ViewColumn: "name", SourceSchema: "public", SourceRelation: "customers", SourceColumn: "name"},
			{ViewColumn: "revenue", SourceSchema: "public", SourceRelation: "orders", SourceColumn: "amount"}}},
	{"daily_revenue", `SELECT day, sum(amount) AS revenue FROM public.orders GROUP BY day`,
		[]string{"public.orders"}, nil, nil, nil},
	{"top_customers", `SELECT customer_id, name, revenue FROM agent_mv.customer_rollup ORDER BY revenue DESC LIMIT 3`,
		nil, []string{"customer_rollup"}, nil, nil},
	{"fragile", `SELECT 100 / d AS v FROM public.divisor`, []string{"public.divisor"}, nil, nil, nil},
}

// Setup creates the fixture on a fresh database.
func Setup(t testing.TB) *Env {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	e := &Env{DB: db, Names: boundary.Names{Schema: "agent_mv", RuntimeRole: db.Prefix + "_runtime", OwnerRole: db.Prefix + "_owner"}}
	e.Admin = db.Pool(t)
	e.RuntimeURL = db.URL(e.Names.RuntimeRole, RuntimePassword)
	db.Exec(t, `
CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL, region text);
CREATE TABLE public.orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES public.customers, amount numeric(10,2) NOT NULL, day date NOT NULL);
CREATE TABLE public.divisor (d int);
CREATE TABLE public.secrets (id int, secret text);
INSERT INTO public.customers SELECT g, 'customer ' || g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 20) g;
INSERT INTO public.orders SELECT g, 1 + g % 20, g * 1.5, date '2026-01-01' + g % 7 FROM generate_series(1, 500) g;
INSERT INTO public.divisor VALUES (1);
INSERT INTO public.secrets VALUES (1, 'the base tables are private');
ANALYZE public.customers, public.orders;`)
	tx, err := e.Admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	must := func(what string, err error) {
		if err != nil {
			t.Fatalf("fixture: %s: %v", what, err)
		}
	}
	// The fixture's database is agentmv's alone, so it takes CREATE on schema public from
	// PUBLIC, as a project that sets public_privileges does: PostgreSQL 14 grants it to PUBLIC
	// by default, and the runtime servers refuse a role that may create objects.
	_, err = boundary.Bootstrap(ctx, tx, e.Names, RuntimePassword, &boundary.BootstrapOptions{RevokePublicCreate: true})
	must("bootstrap", err)
	_, err = boundary.GrantSourcesToOwner(ctx, tx, e.Names, []boundary.Relation{
		{Schema: "public", Name: "customers"}, {Schema: "public", Name: "orders"}, {Schema: "public", Name: "divisor"}})
	must("grant sources", err)
	for _, v := range views {
		must("create "+v.name, boundary.CreateView(ctx, tx, e.Names, v.name, v.body, v.indexes))
		must("register "+v.name, boundary.UpsertView(ctx, tx, e.Names, boundary.ViewRecord{Name: v.name,
			Description: "The " + v.name + " view.", SQLHash: "h-" + v.name, Indexes: v.indexes}))
		must("lineage "+v.name, boundary.ReplaceLineage(ctx, tx, e.Names, v.name, v.tables, v.upstream))
		if v.columns != nil {
			must("column lineage "+v.name, boundary.ReplaceColumnLineage(ctx, tx, e.Names, v.name, v.columns))
		}
		must("comments "+v.name, boundary.SetComments(ctx, tx, e.Names, v.name, "The "+v.name+" view.", meanings[v.name]))
	}
	must("commit", tx.Commit(ctx))
	return e
}

// RuntimePool opens a pool as the runtime role.
func (e *Env) RuntimePool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return e.DB.PoolFor(t, e.RuntimeURL)
}

// Exec runs statements as the admin.
func (e *Env) Exec(t testing.TB, sql string, args ...any) { e.DB.Exec(t, sql, args...) }
