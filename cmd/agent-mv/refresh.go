package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"

	"github.com/agentmv/agentmv/refresh"
)

func newRefreshCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "refresh NAME",
		Short: "Refresh a single view via the runtime SECURITY DEFINER function",
		Args:  cobra.ExactArgs(1),
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, args []string) error {
			res, err := p.Refresh(cmd.Context(), args[0])
			if o.json {
				if perr := printJSON(cmd, res); perr != nil {
					return perr
				}
				return err
			}
			if err != nil {
				return fmt.Errorf("refresh failed: %w", err)
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
		return fmt.Sprintf("- skipped %s: %s", r.View, r.Error)
	case refresh.StatusFailed:
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
			if !o.json {
				opts.Progress = func(e refresh.Event) {
					switch {
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
