package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/internal/fileio"
)

func newDashboardCmd(o *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Static HTML dashboard",
	}
	var out string
	build := &cobra.Command{
		Use:   "build",
		Short: "Build a static dashboard.html from runtime DB state",
		Args:  cobra.NoArgs,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, _ []string) error {
			if err := writeDashboard(cmd.Context(), p, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "✓ wrote %s\n", out)
			return nil
		}),
	}
	build.Flags().StringVar(&out, "out", "dashboard.html", "Output HTML path")
	cmd.AddCommand(build)
	return cmd
}

// writeDashboard renders into memory first, then replaces the file atomically.
func writeDashboard(ctx context.Context, p *agentmv.Project, path string) error {
	var buf bytes.Buffer
	if err := p.BuildDashboard(ctx, &buf, time.Now()); err != nil {
		return err
	}
	if err := fileio.WriteAtomic(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("dashboard: write %s: %w", path, err)
	}
	return nil
}
