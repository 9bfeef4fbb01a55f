package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv"
)

// Incremental refresh benchmarks (refresh_strategy: incremental).
//
// The refresh project: orders (incRows rows, default 1M; AGENTMV_BENCH_INCREMENTAL_ROWS for the
// large run) and customers (one per 10 orders). Two view definitions, each applied twice: as
// an incremental view (inc_*) and as a materialized view of the same SQL (full_*):
//
//	by_customer:  per customer count, sum, min, max of the orders not cancelled (grouped)
//	order_names:  every order with its customer's name (a join; rows shape)
//
// Each iteration changes changedRows orders (amount and customer: rows move between groups)
// in one statement, then times refresh_view of the incremental view (as the runtime role,
// from the client) and REFRESH MATERIALIZED VIEW of the same SQL (as the superuser) back to
// back; the metric is the median of the per-pair ratios. Goal ≤ 0.05.
const changedRows = 1000

func incRows() int {
	if s := os.Getenv("AGENTMV_BENCH_INCREMENTAL_ROWS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 10*changedRows {
			return n
		}
	}
	return baseRows
}

// incrementalSQL builds the refresh project's tables. Autovacuum is off on them: a background
// VACUUM of the freshly loaded 10M-row orders table (insert-triggered) would compete with the
// timed refreshes, and in one large run it made apply's capture lock fail with a deadlock.
func incrementalSQL(rows int) string {
	return fmt.Sprintf(`CREATE TABLE public.customers AS
SELECT g AS id, 'customer ' || g AS name, 'r' || (g %% 20) AS region FROM generate_series(1, %[2]d) AS g;
ALTER TABLE public.customers ADD PRIMARY KEY (id);
CREATE TABLE public.orders AS
SELECT g::bigint AS id, ((g::bigint * 7919) %% %[2]d)::int + 1 AS customer_id,
       ((g::bigint * 31) %% 100000)::numeric(12,2) / 100 AS amount,
       CASE WHEN g %% 17 = 0 THEN 'cancelled' ELSE 'paid' END AS status
  FROM generate_series(1, %[1]d) AS g;
ALTER TABLE public.orders ADD PRIMARY KEY (id);
CREATE INDEX ON public.orders (customer_id);
ALTER TABLE public.customers SET (autovacuum_enabled = off);
ALTER TABLE public.orders SET (autovacuum_enabled = off);
ANALYZE public.customers, public.orders;`, rows, rows/10)
}

var incViews = map[string]string{
	"by_customer": `SELECT customer_id, count(*) AS n, sum(amount) AS total, min(amount) AS lo, max(amount) AS hi
  FROM public.orders WHERE status <> 'cancelled' GROUP BY customer_id`,
	"order_names": `SELECT o.id, o.amount, c.name FROM public.orders o JOIN public.customers c ON c.id = o.customer_id`,
}

type incFixture struct {
	proj *project
	app  *agentmv.Project
	rows int
	rng  *rand.Rand
}

var incProject lazy[*incFixture]

func buildIncFixture(tb testing.TB) *incFixture {
	rows := incRows()
	p := newProject(tb, incrementalSQL(rows))
	var views []view
	for _, name := range []string{"by_customer", "order_names"} {
		views = append(views, view{name: "inc_" + name, sql: incViews[name], incremental: true},
			view{name: "full_" + name, sql: incViews[name]})
	}
	p.writeConfig(tb, views)
	p.apply(tb)
	p.db.Exec(tb, "ANALYZE")
	return &incFixture{proj: p, app: p.open(tb), rows: rows, rng: rand.New(rand.NewPCG(1, 2))}
}

// change updates changedRows random orders: new amounts, and each moves to another customer.
func (f *incFixture) change(tb testing.TB) {
	ids := make([]int64, changedRows)
	for i := range ids {
		ids[i] = 1 + f.rng.Int64N(int64(f.rows))
	}
	_, err := f.proj.admin.Exec(context.Background(), `UPDATE public.orders
   SET amount = amount + 1, customer_id = customer_id % $2 + 1 WHERE id = ANY ($1)`, ids, f.rows/10)
	if err != nil {
		tb.Fatal(err)
	}
}

// refresh runs refresh_view on an incremental view and checks it applied the changes
// incrementally.
func (f *incFixture) refresh(tb testing.TB, view string) {
	r, err := f.app.Refresh(context.Background(), view)
	if err != nil {
		tb.Fatal(err)
	}
	if r.Mode != "incremental" || r.ChangesApplied == nil || *r.ChangesApplied == 0 {
		tb.Fatalf("refresh %s: mode %s (%s), changes %v: not an incremental refresh", view, r.Mode, r.ModeReason, r.ChangesApplied)
	}
}

// BenchmarkIncrementalRefresh: refresh_view of an incremental view after 1,000 changed rows ÷
// REFRESH MATERIALIZED VIEW of the same SQL on the same data. Goal ≤ 0.05.
func BenchmarkIncrementalRefresh(b *testing.B) {
	f := incProject.get(b, buildIncFixture)
	ctx := context.Background()
	for _, name := range []string{"by_customer", "order_names"} {
		b.Run("view="+name+fmt.Sprintf("/rows=%d", f.rows), func(b *testing.B) {
			other := "inc_order_names"
			if name == "order_names" {
				other = "inc_by_customer"
			}
			var p pairs
			for b.Loop() {
				f.change(b)
				b.StopTimer()
				f.refresh(b, other) // the other view's captured changes, not timed
				b.StartTimer()
				inc := timed(func() { f.refresh(b, "inc_"+name) })
				full := timed(func() { f.proj.db.Exec(b, "REFRESH MATERIALIZED VIEW agent_mv.full_"+name) })
				p.add(inc, full)
			}
			p.report(b, "incremental", "full", "ms")
			// Exact: the incremental view equals the materialized view of the same SQL.
			var diff int64
			err := f.proj.admin.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM (
  (SELECT * FROM agent_mv.inc_%[1]s EXCEPT ALL SELECT * FROM agent_mv.full_%[1]s)
  UNION ALL (SELECT * FROM agent_mv.full_%[1]s EXCEPT ALL SELECT * FROM agent_mv.inc_%[1]s)) d`, name)).Scan(&diff)
			if err != nil || diff != 0 {
				b.Fatalf("inc_%s differs from full_%s by %d rows (%v)", name, name, diff, err)
			}
		})
	}
}

// The capture project: two identical tables, events_captured (read by one incremental view,
// so its writes are captured) and events_plain (no capture), 100k rows each with a primary key
// and an index on grp.
const captureSQL = `
CREATE TABLE public.events_captured (id bigint PRIMARY KEY, grp int NOT NULL, amount numeric(12,2), label text);
CREATE INDEX ON public.events_captured (grp);
INSERT INTO public.events_captured SELECT g, g % 1000, (g % 10000)::numeric / 100, 'label ' || (g % 5000) FROM generate_series(1, 100000) g;
CREATE TABLE public.events_plain (LIKE public.events_captured INCLUDING ALL);
INSERT INTO public.events_plain SELECT * FROM public.events_captured;
ANALYZE public.events_captured, public.events_plain;`

type captureFixture struct {
	proj *project
	app  *agentmv.Project
	pool *pgxpool.Pool
}

var captureProject lazy[*captureFixture]

func buildCaptureFixture(tb testing.TB) *captureFixture {
	p := newProject(tb, captureSQL)
	p.writeConfig(tb, []view{{name: "captured_totals", incremental: true,
		sql: "SELECT grp, count(*) AS n, sum(amount) AS total FROM public.events_captured GROUP BY grp"}})
	p.apply(tb)
	return &captureFixture{proj: p, app: p.open(tb), pool: p.admin}
}

// BenchmarkCaptureInsert: a 10,000-row INSERT into the captured table ÷ the same INSERT into
// the identical table without capture (each in a transaction rolled back after it, so the
// tables stay the same size; the capture triggers run inside the INSERT statement). Goal ≤ 1.5.
func BenchmarkCaptureInsert(b *testing.B) {
	f := captureProject.get(b, buildCaptureFixture)
	ctx := context.Background()
	insert := func(table string, from int) time.Duration {
		tx, err := f.pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // rolled back on purpose
		return timed(func() {
			_, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO public.%s SELECT g, g %% 1000, (g %% 10000)::numeric / 100, 'label ' || (g %% 5000)
  FROM generate_series($1::bigint, $1::bigint + 9999) g`, table), from)
			if err != nil {
				b.Fatal(err)
			}
		})
	}
	for range 3 {
		insert("events_captured", 200000)
		insert("events_plain", 200000)
	}
	var p pairs
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			c := insert("events_captured", 200000)
			p.add(c, insert("events_plain", 200000))
		} else {
			pl := insert("events_plain", 200000)
			p.add(insert("events_captured", 200000), pl)
		}
	}
	p.report(b, "captured", "plain", "ms")
}

// BenchmarkCaptureUpdate: a single-row UPDATE by primary key, autocommit, from the client, on
// the captured table ÷ the same on the table without capture. Goal ≤ 1.5. The captured
// changes are consumed by a refresh every 2,000 updates (not timed).
func BenchmarkCaptureUpdate(b *testing.B) {
	f := captureProject.get(b, buildCaptureFixture)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	update := func(table string, id int64) time.Duration {
		return timed(func() {
			if _, err := f.pool.Exec(ctx, "UPDATE public."+table+" SET amount = amount + 1 WHERE id = $1", id); err != nil {
				b.Fatal(err)
			}
		})
	}
	for range 200 {
		id := 1 + rng.Int64N(100000)
		update("events_captured", id)
		update("events_plain", id)
	}
	var p pairs
	for i := 0; b.Loop(); i++ {
		id := 1 + rng.Int64N(100000)
		if i%2 == 0 {
			c := update("events_captured", id)
			p.add(c, update("events_plain", id))
		} else {
			pl := update("events_plain", id)
			p.add(update("events_captured", id), pl)
		}
		if i%2000 == 1999 {
			b.StopTimer()
			if _, err := f.app.Refresh(ctx, "captured_totals"); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	p.report(b, "captured", "plain", "µs")
}
