package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
)

func newDropCmd(o *rootOptions) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "drop NAME",
		Short: "Drop a view (and the managed views built on it) from the database, then from materialize.yaml",
		Args:  cobra.ExactArgs(1),
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, args []string) error {
			ctx := cmd.Context()
			plan, err := p.PlanDrop(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Will drop, dependents first: %s\n", strings.Join(plan.Order, ", "))
			if !yes {
				ok, err := confirm(cmd, fmt.Sprintf("Drop view '%s'?", args[0]))
				if err != nil {
					return err
				}
				if !ok {
					return agentmv.ErrNotConfirmed
				}
			}
			plan, err = p.Drop(ctx, args[0])
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd, plan)
			}
			for _, v := range plan.Order {
				fmt.Fprintf(out, "✓ dropped %s\n", v)
			}
			fmt.Fprintln(out, "The SQL files are left in materialize/; delete them if you no longer need them.")
			return nil
		}),
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "drop without asking (required without a terminal)")
	return cmd
}
