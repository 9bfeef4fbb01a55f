package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/pgtest"
)

// TestMain starts the throwaway Postgres only when benchmarks run: plain `go test ./...`
// runs the fixture unit tests and stays fast.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	pgtest.Main(m)
}

// processTB lends a benchmark's testing.TB to a fixture that lives as long as the process:
// its cleanups never run, so the databases, roles and pools it creates survive the benchmark
// that built them and are reused by the others (and by every -count round). The throwaway
// cluster is removed when the process ends; with AGENTMV_TEST_DATABASE_URL the fixture
// databases (agentmv_t*) and their roles stay behind.
type processTB struct{ testing.TB }

func (processTB) Cleanup(func()) {}

// lazy builds a fixture at most once per process, inside the first benchmark that needs it.
type lazy[T any] struct {
	once    sync.Once
	v       T
	ok      bool
	skipped bool
}

func (l *lazy[T]) get(b *testing.B, build func(tb testing.TB) T) T {
	b.Helper()
	l.once.Do(func() {
		defer func() { l.skipped = b.Skipped() }()
		start := time.Now()
		l.v = build(processTB{b})
		l.ok = true
		b.Logf("fixture built in %s", time.Since(start).Round(time.Millisecond))
	})
	switch {
	case l.skipped:
		b.Skip("no Postgres for the benchmarks (see the first benchmark's skip)")
	case !l.ok:
		b.Fatal("the fixture failed to build in an earlier benchmark (see its failure)")
	}
	return l.v
}

// eventsSQL generates the base table every fixture reads: rows events with a primary key.
func eventsSQL(rows int) string {
	return fmt.Sprintf(`CREATE TABLE public.events AS
SELECT g::bigint AS id, (g %% 1000)::int AS grp, date '2025-01-01' + (g %% 365)::int AS day,
       ((g::bigint * 7919) %% 100000)::numeric(12,2) / 100 AS amount, 'label ' || (g %% 5000) AS label
  FROM generate_series(1, %d) AS g;
ALTER TABLE public.events ADD PRIMARY KEY (id);
ANALYZE public.events;`, rows)
}

// view is one managed view of a generated project.
type view struct {
	name    string
	sql     string
	unique  []string // columns of a unique index, if any
	comment string   // description
	// incremental makes it refresh_strategy: incremental (incremental_threshold 1: the
	// benchmarks choose the share of changes themselves).
	incremental bool
}

// project is a generated materialize.yaml with its SQL files, bound to one fresh database whose
// runtime and owner roles are unique to it.
type project struct {
	db       *pgtest.DB
	dir      string
	settings agentmv.Settings
	admin    *pgxpool.Pool
}

const runtimePassword = "bench-runtime-pw"

func newProject(tb testing.TB, seed string) *project {
	tb.Helper()
	db := pgtest.NewDB(tb)
	if seed != "" {
		db.Exec(tb, seed)
	}
	dir, err := os.MkdirTemp("", "agentmv-bench-")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "materialize"), 0o755); err != nil {
		tb.Fatal(err)
	}
	return &project{db: db, dir: dir, admin: db.Pool(tb), settings: agentmv.Settings{
		DatabaseURL:     db.AdminURL,
		RuntimeURL:      db.URL(db.Prefix+"_runtime", runtimePassword),
		RuntimePassword: runtimePassword,
		RuntimeRole:     db.Prefix + "_runtime",
		OwnerRole:       db.Prefix + "_owner",
	}}
}

// writeConfig writes materialize.yaml and one SQL file per view.
func (p *project) writeConfig(tb testing.TB, views []view) {
	tb.Helper()
	var y strings.Builder
	y.WriteString("version: 1\ntarget_schema: agent_mv\nviews:\n")
	for _, v := range views {
		fmt.Fprintf(&y, "  - name: %s\n    sql_file: materialize/%s.sql\n", v.name, v.name)
		desc := v.comment
		if desc == "" {
			desc = "Generated view " + v.name + "."
		}
		fmt.Fprintf(&y, "    description: %q\n", desc)
		if len(v.unique) > 0 {
			fmt.Fprintf(&y, "    indexes:\n      - columns: [%s]\n        unique: true\n", strings.Join(v.unique, ", "))
		}
		if v.incremental {
			y.WriteString("    refresh_strategy: incremental\n    incremental_threshold: 1\n")
		}
		p.writeSQL(tb, v.name, v.sql)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "materialize.yaml"), []byte(y.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func (p *project) writeSQL(tb testing.TB, name, sql string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, "materialize", name+".sql"), []byte(sql+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// open opens the project as the CLI does (fresh config, fresh pools); the caller closes it.
func (p *project) open(tb testing.TB) *agentmv.Project {
	tb.Helper()
	pr, err := agentmv.Open(context.Background(), agentmv.Options{
		ConfigPath: filepath.Join(p.dir, "materialize.yaml"),
		DotenvPath: "-",
		Overrides:  p.settings,
		Environ:    func(string) (string, bool) { return "", false },
	})
	if err != nil {
		tb.Fatalf("open project: %v", err)
	}
	return pr
}

// apply runs one `agent-mv apply`: open, apply, close.
func (p *project) apply(tb testing.TB) *agentmv.ApplyResult {
	tb.Helper()
	pr := p.open(tb)
	defer pr.Close()
	res, err := pr.Apply(context.Background(), agentmv.ApplyOptions{LockTimeout: time.Minute})
	if err != nil {
		tb.Fatalf("apply: %v", err)
	}
	return res
}

// pairs collects back-to-back timings of a measured operation and its baseline. The ratio is
// the median of the per-pair ratios: each pair ran within milliseconds of each other, so it
// is robust against load that comes and goes on a shared machine, where a ratio of totals
// is not.
type pairs struct {
	a, base []time.Duration
}

func (p *pairs) add(a, base time.Duration) {
	p.a = append(p.a, a)
	p.base = append(p.base, base)
}

func (p *pairs) ratio() float64 {
	r := make([]float64, len(p.a))
	for i := range p.a {
		r[i] = float64(p.a[i]) / float64(p.base[i])
	}
	return median(r)
}

// report reports the median time of each side (in unit per op, e.g. "µs") and the ratio.
func (p *pairs) report(b *testing.B, aName, baseName, unit string) {
	scale := map[string]time.Duration{"µs": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[unit]
	b.ReportMetric(medianDuration(p.a)/float64(scale), aName+"-"+unit+"/op")
	b.ReportMetric(medianDuration(p.base)/float64(scale), baseName+"-"+unit+"/op")
	b.ReportMetric(p.ratio(), aName+"/"+baseName)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianDuration(d []time.Duration) float64 {
	f := make([]float64, len(d))
	for i, x := range d {
		f[i] = float64(x)
	}
	return median(f)
}

func timed(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}
