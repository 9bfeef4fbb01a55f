package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"

	"github.com/agentmv/agentmv/refresh"
)

func newStatusCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show a status table for all materialized views (last refresh, freshness, running now)",
		Args:  cobra.NoArgs,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, _ []string) error {
			st, err := p.Status(cmd.Context())
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd, st)
			}
			writeStatus(cmd, st, time.Now())
			return nil
		}),
	}
}

func writeStatus(cmd *cobra.Command, st []refresh.ViewStatus, now time.Time) {
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, "agent-materialize: views")
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "name\trows\tlast_refreshed_at\tlast_status\tmode\tduration\tfresh\tupstream")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, rows, last, status, or(v.LastMode, "-"), dur, fresh, or(strings.Join(v.Upstream, ", "), "-"))
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
