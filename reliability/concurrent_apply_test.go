package reliability_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/testutil"
)

// slowApplyProject is the slow view, applied, then changed so that the next apply rebuilds it
// while it sleeps sleep seconds.
func slowApplyProject(t *testing.T, sleep string) *project {
	pr := newProject(t, slowSeed)
	pr.write("materialize.yaml", slowYAML)
	pr.write("materialize/slow.sql", slowSQL)
	pr.mustRun("apply", "--yes")
	pr.write("materialize/slow.sql", strings.Replace(slowSQL, "b.id, b.v", "b.id, b.v, b.v * 2 AS v2", 1))
	pr.db.Exec(t, `UPDATE knob SET sleep_s = `+sleep)
	return pr
}

// checkRegistryMatchesCatalog asserts that the registry, the catalog and the lineage agree
// and that one more apply is a no-op.
func checkRegistryMatchesCatalog(t *testing.T, pr *project) {
	t.Helper()
	var mismatches string
	if err := pr.admin.QueryRow(context.Background(), `
		SELECT coalesce(string_agg(coalesce(v.name, m.matviewname) || CASE WHEN v.name IS NULL THEN ' (not registered)' ELSE ' (no matview)' END, ', '), '')
		  FROM agent_mv.views v FULL JOIN (SELECT matviewname FROM pg_catalog.pg_matviews WHERE schemaname = 'agent_mv') m
		    ON m.matviewname = v.name
		 WHERE v.name IS NULL OR m.matviewname IS NULL`).Scan(&mismatches); err != nil {
		t.Fatal(err)
	}
	if mismatches != "" {
		t.Errorf("registry and catalog disagree: %s", mismatches)
	}
	res, err := pr.open().Apply(context.Background(), agentmv.ApplyOptions{})
	if err != nil {
		t.Fatalf("apply after the concurrent applies: %v", err)
	}
	if res.Plan.Changes() {
		t.Errorf("apply after the concurrent applies is not a no-op:\n%s", res.Plan)
	}
}

// TestConcurrentAppliesLibrary runs a second Project.Apply while a first one is inside its
// transaction. The test holds the first one there deterministically: it locks the table the
// rebuilt view reads (knob), waits until the first apply holds the apply lock (pg_locks), and
// only then starts the second. With the default lock timeout the second waits for the lock
// (seen in pg_locks) and, once the test lets the first commit, finds nothing to do; with a
// short one it fails with ErrApplyRunning while the first still holds the lock. Either way the
// two never interleave. Nothing here depends on how fast the machine is.
func TestConcurrentAppliesLibrary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		lockTimeout time.Duration
	}{
		{"second waits", 0},
		{"second fails fast", 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := slowApplyProject(t, "0")
			ctx := context.Background()
			type outcome struct {
				res *agentmv.ApplyResult
				err error
			}
			apply := func(p *agentmv.Project, timeout time.Duration) <-chan outcome {
				ch := make(chan outcome, 1)
				go func() {
					res, err := p.Apply(ctx, agentmv.ApplyOptions{LockTimeout: timeout})
					ch <- outcome{res, err}
				}()
				return ch
			}
			gate, err := pr.admin.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = gate.Rollback(ctx) }()
			if _, err := gate.Exec(ctx, `LOCK TABLE public.knob IN ACCESS EXCLUSIVE MODE`); err != nil {
				t.Fatal(err)
			}
			firstDone := apply(pr.open(), 0)
			testutil.WaitFor(t, testutil.Wait, "the first apply to hold the apply lock", func() (bool, error) {
				held, _ := applyLockState(t, pr)
				return held == 1, nil
			})
			secondDone := apply(pr.open(), tc.lockTimeout)
			var second outcome
			if tc.lockTimeout == 0 {
				testutil.WaitFor(t, testutil.Wait, "the second apply to wait for the apply lock", func() (bool, error) {
					held, waiting := applyLockState(t, pr)
					return held == 1 && waiting == 1, nil
				})
			} else {
				second = <-secondDone // the first cannot finish yet: the test holds knob
				if held, _ := applyLockState(t, pr); held != 1 {
					t.Fatalf("the first apply no longer holds the lock (held=%d) although the test blocks it", held)
				}
			}
			if err := gate.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			first := <-firstDone
			if first.err != nil || !first.res.Plan.Changes() {
				t.Fatalf("first apply: %v, plan:\n%v", first.err, first.res.Plan)
			}
			if tc.lockTimeout == 0 {
				second = <-secondDone
				if second.err != nil {
					t.Fatalf("second apply: %v", second.err)
				}
				if second.res.Plan.Changes() {
					t.Errorf("second apply was not a no-op after waiting: it interleaved or planned before the first committed:\n%s", second.res.Plan)
				}
			} else {
				if !errors.Is(second.err, agentmv.ErrApplyRunning) {
					t.Fatalf("second apply: %v, want ErrApplyRunning", second.err)
				}
				if !strings.Contains(second.err.Error(), "another apply is running") {
					t.Errorf("error text %q does not say another apply is running", second.err)
				}
			}
			checkRegistryMatchesCatalog(t, pr)
		})
	}
}

// applyLockState counts the backends of this database's agentmv sessions that hold (granted)
// or wait for (not granted) a session-level advisory lock of the one-bigint form (objsubid 1).
// Apply takes the apply lock first in its transaction, so while an apply runs only it can be
// waited for, and a holder holds it (the bootstrap lock, the other one of that form, is taken
// later in the same transaction, by the same backend).
func applyLockState(t *testing.T, pr *project) (held, waiting int) {
	t.Helper()
	if err := pr.admin.QueryRow(context.Background(), `SELECT
		count(DISTINCT l.pid) FILTER (WHERE l.granted), count(DISTINCT l.pid) FILTER (WHERE NOT l.granted)
		  FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
		 WHERE a.datname = pg_catalog.current_database() AND a.application_name = 'agentmv'
		   AND l.locktype = 'advisory' AND l.objsubid = 1`).Scan(&held, &waiting); err != nil {
		t.Fatal(err)
	}
	return held, waiting
}

// TestConcurrentAppliesCLI starts two `agent-mv apply --yes` processes at once, on a fresh
// database (both would bootstrap the schema and roles) and on a slow rebuild. Exactly one
// applies; the other either waits and finds nothing to do, or stops with a message saying
// another apply ran (ErrApplyRunning) or that the plan it showed is out of date
// (ErrPlanChanged: the CLI confirms a plan computed before it waits for the lock).
func TestConcurrentAppliesCLI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(*testing.T) *project
	}{
		{"first apply on a fresh database", func(t *testing.T) *project {
			pr := newProject(t, slowSeed)
			pr.write("materialize.yaml", slowYAML)
			pr.write("materialize/slow.sql", slowSQL)
			pr.db.Exec(t, `UPDATE knob SET sleep_s = 1`)
			return pr
		}},
		{"slow rebuild", func(t *testing.T) *project { return slowApplyProject(t, "2") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := tc.setup(t)
			type run struct {
				out  bytes.Buffer
				err  error
				took time.Duration
			}
			var runs [2]run
			var wg sync.WaitGroup
			for i := range runs {
				cmd := pr.command(context.Background(), "apply", "--yes")
				cmd.Stdout, cmd.Stderr = &runs[i].out, &runs[i].out
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					runs[i].err = cmd.Run()
					runs[i].took = time.Since(start)
				}()
			}
			wg.Wait()
			applied, noop, refused := 0, 0, 0
			for i, r := range runs {
				text := r.out.String()
				t.Logf("process %d (%s, err %v):\n%s", i, r.took.Round(time.Millisecond), r.err, text)
				switch {
				case r.err == nil && strings.Contains(text, "1 created or rebuilt"):
					applied++
				case r.err == nil && strings.Contains(text, "0 created or rebuilt"):
					noop++
				case r.err != nil && (strings.Contains(text, "another apply is running") || strings.Contains(text, "the database changed since the plan was shown")):
					refused++
				default:
					t.Errorf("process %d: unexpected outcome", i)
				}
			}
			if applied != 1 || noop+refused != 1 {
				t.Errorf("applied %d, no-op %d, refused %d; want exactly one apply", applied, noop, refused)
			}
			checkRegistryMatchesCatalog(t, pr)
		})
	}
}
