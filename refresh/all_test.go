package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/testutil"
	"github.com/agentmv/agentmv/refresh"
)

// dagFixture: base -> a -> b -> c -> d and base -> x -> y. After setup, base holds a zero, so
// b (1000 / v) fails while a, x and y refresh fine. a and x also read public.gate, so a test
// that locks gate can hold both refreshes in progress (each holding its refresh lock) and see
// them run at the same time.
func dagFixture(t *testing.T) *fixture {
	f := newFixture(t, baseSQL+"\nCREATE TABLE public.gate (open boolean);\n")
	base := []string{"public.base", "public.gate"}
	f.addViews(t,
		view{name: "a", body: "SELECT b.k, b.v FROM public.base b CROSS JOIN (SELECT count(*) FROM public.gate) g", tables: base},
		view{name: "b", body: "SELECT k, 1000 / v AS r FROM agent_mv.a", views: []string{"a"}},
		view{name: "c", body: "SELECT k, r FROM agent_mv.b", views: []string{"b"}},
		view{name: "d", body: "SELECT k FROM agent_mv.c", views: []string{"c"}},
		view{name: "x", body: "SELECT b.k, b.v * 2 AS w FROM public.base b CROSS JOIN (SELECT count(*) FROM public.gate) g", tables: base},
		view{name: "y", body: "SELECT k, w FROM agent_mv.x", views: []string{"x"}},
	)
	f.db.Exec(t, "UPDATE public.base SET v = 0 WHERE k = 7")
	return f
}

// TestRefreshAllFailingMiddle: b fails; its descendants c and d are skipped with the cause;
// the unrelated branch x -> y succeeds; the summary and ErrRunFailed say so; progress events
// arrive in order; the default pool runs the two independent branches at once (the test holds
// a and x inside their refreshes until pg_locks shows both refresh locks granted).
func TestRefreshAllFailingMiddle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := dagFixture(t)
	gate, err := f.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gate.Rollback(ctx) }()
	if _, err := gate.Exec(ctx, "LOCK TABLE public.gate IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		events []refresh.Event
		sum    refresh.Summary
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sum, err = f.client.RefreshAll(ctx, refresh.AllOptions{Progress: func(e refresh.Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		}})
	}()
	testutil.WaitFor(t, testutil.Wait, "a and x to be refreshing at the same time (both refresh locks granted)", func() (bool, error) {
		running, err := boundary.RunningRefreshes(ctx, f.admin, f.n)
		_, a := running["a"]
		_, x := running["x"]
		return a && x, err
	})
	if err := gate.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	if !errors.Is(err, refresh.ErrRunFailed) {
		t.Fatalf("RefreshAll error = %v, want ErrRunFailed", err)
	}
	if !strings.Contains(err.Error(), "3 succeeded, 1 failed, 2 skipped") {
		t.Errorf("error %q does not summarise the run", err)
	}
	if sum.Succeeded != 3 || sum.Failed != 1 || sum.Skipped != 2 || sum.OK() {
		t.Errorf("summary %+v, want 3 succeeded, 1 failed, 2 skipped", sum)
	}
	if sum.Parallel != 2 {
		t.Errorf("default parallel = %d, want 2 (two independent branches)", sum.Parallel)
	}
	testutil.CheckGolden(t, filepath.Join("testdata", "refresh_all_failing_middle.golden"), []byte(describeSummary(sum)))

	// Progress: every view ends once; refreshed views start once, before they end; waves.
	started, ended := map[string]int{}, map[string]int{}
	for _, e := range events {
		if e.Started {
			if ended[e.View] > 0 {
				t.Errorf("%s started after it ended", e.View)
			}
			started[e.View]++
		} else if e.Result != nil {
			ended[e.View]++
		}
	}
	wantWave := map[string]int{"a": 1, "x": 1, "b": 2, "y": 2, "c": 3, "d": 4}
	for _, e := range events {
		if e.Wave != wantWave[e.View] {
			t.Errorf("event %s wave %d, want %d", e.View, e.Wave, wantWave[e.View])
		}
	}
	if d := cmp.Diff(map[string]int{"a": 1, "b": 1, "x": 1, "y": 1}, started); d != "" {
		t.Errorf("started events (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int{"a": 1, "b": 1, "c": 1, "d": 1, "x": 1, "y": 1}, ended); d != "" {
		t.Errorf("ended events (-want +got):\n%s", d)
	}

	// The database agrees: skipped views were not touched; b's failure is recorded.
	for _, v := range []string{"c", "d"} {
		if h := f.history(t, v); len(h) != 0 {
			t.Errorf("skipped view %s has history %+v", v, h)
		}
	}
	if h := f.history(t, "b"); len(h) != 1 || h[0].Status != "failed" || h[0].SQLState != "22012" {
		t.Errorf("history of b = %+v, want one failed 22012", h)
	}
	// y started only after x finished.
	x, y := f.history(t, "x"), f.history(t, "y")
	if len(x) != 1 || len(y) != 1 || x[0].FinishedAt == nil {
		t.Fatalf("history of x = %+v, y = %+v; want one finished row each", x, y)
	}
	if y[0].StartedAt.Before(*x[0].FinishedAt) {
		t.Errorf("y started at %s before its upstream x finished at %s", y[0].StartedAt, x[0].FinishedAt)
	}
}

// TestRefreshAllSelection: --select and --downstream restrict the run.
func TestRefreshAllSelection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := dagFixture(t)
	if _, err := f.client.Refresh(ctx, "a"); err != nil { // a now holds the zero that breaks b
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    refresh.AllOptions
		want    map[string]string // view -> status
		wantErr bool
	}{
		{name: "select x", opts: refresh.AllOptions{Select: []string{"x"}}, want: map[string]string{"x": "success"}},
		{name: "select x and c", opts: refresh.AllOptions{Select: []string{"x", "c"}}, want: map[string]string{"x": "success", "c": "success"}},
		{name: "downstream x", opts: refresh.AllOptions{Downstream: "x", Parallel: 1}, want: map[string]string{"x": "success", "y": "success"}},
		{name: "downstream b", opts: refresh.AllOptions{Downstream: "b"}, want: map[string]string{"b": "failed", "c": "skipped", "d": "skipped"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]int{} // history rows per view before this run
			for _, v := range []string{"a", "b", "c", "d", "x", "y"} {
				before[v] = len(f.history(t, v))
			}
			sum, err := f.client.RefreshAll(ctx, tt.opts)
			if errors.Is(err, refresh.ErrRunFailed) != tt.wantErr {
				t.Fatalf("RefreshAll error = %v, want ErrRunFailed: %v", err, tt.wantErr)
			}
			got := map[string]string{}
			for _, r := range sum.Results {
				got[r.View] = r.Status
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("results (-want +got):\n%s", d)
			}
			for v, n := range before {
				_, inRun := tt.want[v]
				grew := len(f.history(t, v)) > n
				if grew != (inRun && tt.want[v] != "skipped") {
					t.Errorf("view %s: history grew %v, in run %v (%s)", v, grew, inRun, tt.want[v])
				}
			}
		})
	}
	if _, err := f.client.RefreshAll(ctx, refresh.AllOptions{Select: []string{"nope"}}); !errors.Is(err, refresh.ErrUnknownView) {
		t.Errorf("select of an unknown view: err = %v, want ErrUnknownView", err)
	}
}

// TestRefreshAllCanceled: a canceled run skips what it has not started, with the cause.
func TestRefreshAllCanceled(t *testing.T) {
	t.Parallel()
	f := dagFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	sum, err := f.client.RefreshAll(ctx, refresh.AllOptions{Parallel: 1, Progress: func(e refresh.Event) {
		if e.Result != nil && e.View == "a" {
			cancel()
		}
	}})
	if !errors.Is(err, refresh.ErrRunFailed) {
		t.Fatalf("err = %v, want ErrRunFailed", err)
	}
	got := map[string]string{}
	for _, r := range sum.Results {
		got[r.View] = r.Status
		if r.Status == refresh.StatusSkipped && !strings.Contains(r.Error, "canceled") {
			t.Errorf("%s skipped without the cause: %q", r.View, r.Error)
		}
	}
	// a ran; the rest were never started (x may have been handed out before the cancel).
	if got["a"] != refresh.StatusSuccess || got["b"] != refresh.StatusSkipped || got["d"] != refresh.StatusSkipped || len(got) != 6 {
		t.Errorf("results after cancel: %v", got)
	}
}

// describeSummary renders the deterministic part of a summary: one line per view, sorted.
func describeSummary(s refresh.Summary) string {
	var lines []string
	for _, r := range s.Results {
		line := fmt.Sprintf("%-2s %-8s", r.View, r.Status)
		if r.Mode != "" {
			line += " mode=" + r.Mode
		}
		if r.RowsAfter != nil {
			line += fmt.Sprintf(" rows=%d", *r.RowsAfter)
		}
		if r.SQLState != "" {
			line += " sqlstate=" + r.SQLState
		}
		if r.Error != "" {
			line += " error=" + r.Error
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + fmt.Sprintf("\nsucceeded=%d failed=%d skipped=%d busy=%d fresh=%d parallel=%d\n",
		s.Succeeded, s.Failed, s.Skipped, s.Busy, s.Fresh, s.Parallel)
}
