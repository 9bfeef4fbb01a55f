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

// TestConcurrentAppliesLibrary runs two Project.Apply at once on an apply that takes ~2 s.
// With the default lock timeout the second waits for the first and then finds nothing to do;
// with a short one it fails fast with ErrApplyRunning. Either way the two never interleave.
func TestConcurrentAppliesLibrary(t *testing.T) {
	for _, tc := range []struct {
		name        string
		lockTimeout time.Duration
	}{
		{"second waits", 0},
		{"second fails fast", 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := slowApplyProject(t, "2")
			type outcome struct {
				res      *agentmv.ApplyResult
				err      error
				start    time.Time
				finished time.Time
			}
			var out [2]outcome
			var wg sync.WaitGroup
			gate := make(chan struct{})
			for i := range out {
				p := pr.open()
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					if i == 1 {
						time.Sleep(100 * time.Millisecond) // let the first take the lock
					}
					out[i].start = time.Now()
					out[i].res, out[i].err = p.Apply(context.Background(), agentmv.ApplyOptions{LockTimeout: tc.lockTimeout})
					out[i].finished = time.Now()
				}()
			}
			close(gate)
			wg.Wait()
			first, second := out[0], out[1]
			if first.err != nil || !first.res.Plan.Changes() {
				t.Fatalf("first apply: %v, plan:\n%v", first.err, first.res.Plan)
			}
			t.Logf("first apply %s; second returned after %s", first.finished.Sub(first.start).Round(time.Millisecond),
				second.finished.Sub(second.start).Round(time.Millisecond))
			if tc.lockTimeout == 0 {
				if second.err != nil {
					t.Fatalf("second apply: %v", second.err)
				}
				if second.res.Plan.Changes() {
					t.Errorf("second apply was not a no-op after waiting: it interleaved or planned before the first committed:\n%s", second.res.Plan)
				}
				if second.finished.Before(first.finished) {
					t.Error("second apply finished before the first: it did not wait for the lock")
				}
			} else {
				if !errors.Is(second.err, agentmv.ErrApplyRunning) {
					t.Fatalf("second apply: %v, want ErrApplyRunning", second.err)
				}
				if !strings.Contains(second.err.Error(), "another apply is running") {
					t.Errorf("error text %q does not say another apply is running", second.err)
				}
				if d := second.finished.Sub(second.start); d > time.Second {
					t.Errorf("second apply took %s to fail; want fast (lock timeout %s)", d, tc.lockTimeout)
				}
			}
			checkRegistryMatchesCatalog(t, pr)
		})
	}
}

// TestConcurrentAppliesCLI starts two `agent-mv apply --yes` processes at once, on a fresh
// database (both would bootstrap the schema and roles) and on a slow rebuild. Exactly one
// applies; the other either waits and finds nothing to do, or stops with a message saying
// another apply ran (ErrApplyRunning) or that the plan it showed is out of date
// (ErrPlanChanged: the CLI confirms a plan computed before it waits for the lock).
func TestConcurrentAppliesCLI(t *testing.T) {
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
