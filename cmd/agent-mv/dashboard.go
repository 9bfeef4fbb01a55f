package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
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
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dashboard-*.html")
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("dashboard: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
