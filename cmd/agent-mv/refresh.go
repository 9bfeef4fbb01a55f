package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"

	"github.com/agentmv/agentmv/refresh"
)

func newRefreshCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:               "refresh NAME",
		Short:             "Refresh a single view via the runtime SECURITY DEFINER function",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.completeViewNames,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, args []string) error {
			c, err := p.Refresher(cmd.Context())
			if err != nil {
				return err
			}
			c.Watch = newWaitPrinter(cmd.ErrOrStderr()).print
			res, err := c.Refresh(cmd.Context(), args[0])
			if o.json {
				if perr := printJSON(cmd, res); perr != nil {
					return perr
				}
				return err
			}
			if err != nil {
				return err // it says "refresh <name>: …" or "refresh of <name> failed: …"
			}
			fmt.Fprintln(cmd.OutOrStdout(), describeResult(res))
			return nil
		}),
	}
}

func describeResult(r refresh.Result) string {
	switch r.Status {
	case refresh.StatusBusy:
		return fmt.Sprintf("· %s is being refreshed by another session right now; its result will be visible when that finishes", r.View)
	case refresh.StatusFresh:
		return fmt.Sprintf("· %s was refreshed recently (within its min_refresh_interval); nothing to do", r.View)
	case refresh.StatusSkipped:
		return fmt.Sprintf("- skipped %s: %s", r.View, strings.TrimPrefix(r.Error, "skipped: "))
	case refresh.StatusFailed:
		if r.SQLState != "" {
			return fmt.Sprintf("✗ %s failed: %s (SQLSTATE %s)", r.View, r.Error, r.SQLState)
		}
		return fmt.Sprintf("✗ %s failed: %s", r.View, r.Error)
	}
	rows := "?"
	if r.RowsAfter != nil {
		rows = fmt.Sprint(*r.RowsAfter)
	}
	return fmt.Sprintf("✓ refreshed %s (%s, %s rows, %.0fms)", r.View, r.Mode, rows, r.DurationMs)
}

func newRefreshAllCmd(o *rootOptions) *cobra.Command {
	var opts refresh.AllOptions
	var selectOne string
	cmd := &cobra.Command{
		Use:   "refresh-all",
		Short: "Refresh all views in dependency order, in parallel where independent",
		Long: `Refresh every managed view in dependency order with a bounded worker pool. A view starts
once all its upstream views succeeded in this run; descendants of a failed view are skipped
with the cause; unrelated branches go on. Exits non-zero if anything failed or was skipped.`,
		Args: cobra.NoArgs,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, _ []string) error {
			if selectOne != "" {
				opts.Select = []string{selectOne}
			}
			out := cmd.OutOrStdout()
			tty := false
			if f, ok := out.(*os.File); ok {
				tty = isTerminal(f)
			}
			waits := newWaitPrinter(cmd.ErrOrStderr())
			opts.Progress = func(e refresh.Event) {
				if e.Wait != nil {
					waits.print(*e.Wait)
				}
			}
			if !o.json {
				opts.Progress = func(e refresh.Event) {
					switch {
					case e.Wait != nil:
						waits.print(*e.Wait)
					case e.Started && tty:
						fmt.Fprintf(out, "  … wave %d  %-30s started at +%s\n", e.Wave, e.View, e.Elapsed.Round(time.Millisecond))
					case e.Result != nil:
						fmt.Fprintf(out, "%s  (wave %d, +%s)\n", describeResult(*e.Result), e.Wave, e.Elapsed.Round(time.Millisecond))
					}
				}
			}
			sum, err := p.RefreshAll(cmd.Context(), opts)
			if o.json {
				if perr := printJSON(cmd, sum); perr != nil {
					return perr
				}
				return err
			}
			if err != nil && !errors.Is(err, refresh.ErrRunFailed) {
				return err
			}
			fmt.Fprintf(out, "refresh-all: %d succeeded, %d failed, %d skipped, %d busy, %d fresh in %s (parallel %d)\n",
				sum.Succeeded, sum.Failed, sum.Skipped, sum.Busy, sum.Fresh, sum.Elapsed.Round(time.Millisecond), sum.Parallel)
			return err
		}),
	}
	cmd.Flags().IntVar(&opts.Parallel, "parallel", 0, "refreshes at once (default: independent branches, up to 4)")
	cmd.Flags().StringVar(&selectOne, "select", "", "refresh only this view")
	cmd.Flags().StringVar(&opts.Downstream, "downstream", "", "refresh this view and every view that depends on it")
	return cmd
}

// waitPrinter shows what a refresh that runs longer than a second is waiting for: a line
// when it is first reported, whenever it changes (another lock, another blocker), and every
// waitRepeat while it stays the same. Progress goes to stderr, so stdout (and --json) keeps
// only results.
type waitPrinter struct {
	w    io.Writer
	mu   sync.Mutex
	last map[string]waitSeen
}

type waitSeen struct {
	what string
	at   time.Duration
}

// waitRepeat is how often an unchanged wait is shown again.
const waitRepeat = 5 * time.Second

func newWaitPrinter(w io.Writer) *waitPrinter {
	return &waitPrinter{w: w, last: map[string]waitSeen{}}
}

func (p *waitPrinter) print(w refresh.Wait) {
	p.mu.Lock()
	defer p.mu.Unlock()
	what := "refreshing"
	if w.Lock != nil {
		what = fmt.Sprintf("%s %s %v", w.Lock.Relation, w.Lock.Mode, w.Lock.Blockers)
	}
	if seen, ok := p.last[w.View]; ok && seen.what == what && w.Elapsed-seen.at < waitRepeat {
		return
	}
	p.last[w.View] = waitSeen{what: what, at: w.Elapsed}
	fmt.Fprintf(p.w, "  … %s\n", w)
}
