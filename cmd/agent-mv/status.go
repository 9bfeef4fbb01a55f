package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"

	"github.com/agentmv/agentmv/refresh"
)

func newStatusCmd(o *rootOptions) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a status table for all materialized views (last refresh, freshness, running now)",
		Long: `Show the last refresh, mode, rows, freshness and schedule of every managed view.

With --check, print only what needs attention and exit 1 when any view is past its
max_staleness, its last refresh failed, or it is not populated (for cron, CI and monitoring);
exit 0 when every view is healthy.`,
		Args: cobra.NoArgs,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, _ []string) error {
			st, err := p.Status(cmd.Context())
			if err != nil {
				return err
			}
			if check {
				return writeCheck(cmd, o.json, st)
			}
			if o.json {
				return printJSON(cmd, st)
			}
			writeStatus(cmd, st, time.Now())
			return nil
		}),
	}
	cmd.Flags().BoolVar(&check, "check", false, "exit 1 when any view is stale, failed its last refresh or is unpopulated, printing which and why")
	return cmd
}

// checkReport is the --json output of `status --check`.
type checkReport struct {
	OK     bool                 `json:"ok"`
	Alarms []refresh.Alarm      `json:"alarms"`
	Views  []refresh.ViewStatus `json:"views"`
}

// errCheckFailed makes `status --check` exit 1 after printing its report.
var errCheckFailed = errors.New("status --check: some views need attention (see above)")

// writeCheck prints the alarms of st (or that all is well) and returns errCheckFailed when
// there are any.
func writeCheck(cmd *cobra.Command, asJSON bool, st []refresh.ViewStatus) error {
	alarms := refresh.Check(st)
	if asJSON {
		if err := printJSON(cmd, checkReport{OK: len(alarms) == 0, Alarms: append([]refresh.Alarm{}, alarms...), Views: st}); err != nil {
			return err
		}
	} else {
		out := cmd.OutOrStdout()
		for _, a := range alarms {
			fmt.Fprintf(out, "✗ %s: %s: %s\n", a.View, a.Kind, a.Reason)
		}
		if len(alarms) == 0 {
			fmt.Fprintf(out, "✓ %d views: populated, last refresh succeeded, within max_staleness\n", len(st))
		}
	}
	if len(alarms) > 0 {
		return errCheckFailed
	}
	return nil
}

func writeStatus(cmd *cobra.Command, st []refresh.ViewStatus, now time.Time) {
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, "agent-materialize: views")
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tstrategy\trows\tlast_refreshed_at\tlast_status\tmode\tduration\tfresh\tschedule\tupstream")
	for _, v := range st {
		rows := "-"
		if v.RowsEstimate != nil {
			rows = fmt.Sprint(*v.RowsEstimate)
		}
		last := "-"
		if v.LastFinishedAt != nil {
			last = v.LastFinishedAt.UTC().Format(time.RFC3339) + " (" + age(now.Sub(*v.LastFinishedAt)) + " ago)"
		}
		status := or(v.LastStatus, "-")
		if v.Running {
			status += " (refreshing now)"
		}
		if !v.Populated {
			status += " (not populated)"
		}
		dur := "-"
		if v.LastDurationMs != nil {
			dur = fmt.Sprintf("%.0fms", *v.LastDurationMs)
		}
		fresh := "ok"
		if v.Stale {
			fresh = "STALE"
		}
		schedule := "-"
		if v.RefreshEvery > 0 {
			schedule = "every " + agentmv.FormatDuration(v.RefreshEvery) + ", due now"
			if v.NextDueAt != nil && v.NextDueAt.After(now) {
				schedule = "every " + agentmv.FormatDuration(v.RefreshEvery) + ", next in " + age(v.NextDueAt.Sub(now))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, or(v.Strategy, "full"), rows, last, status, or(v.LastMode, "-"), dur, fresh, schedule, or(strings.Join(v.Upstream, ", "), "-"))
	}
	tw.Flush()
	for _, v := range st {
		if v.LastStatus == refresh.StatusFailed {
			fmt.Fprintf(out, "✗ %s: last refresh failed: %s\n", v.Name, v.LastError)
		}
		if v.Stale {
			fmt.Fprintf(out, "⚠ %s is stale: %s\n", v.Name, v.StaleReason)
		}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
