package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
)

// errDropAborted is the answer to a "no" at drop's question.
var errDropAborted = errors.New("drop aborted: nothing was dropped")

func newDropCmd(o *rootOptions) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:               "drop NAME",
		Short:             "Drop a view (and the managed views built on it) from the database, then from materialize.yaml",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.completeViewNames,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, args []string) error {
			ctx := cmd.Context()
			plan, err := p.PlanDrop(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			question := fmt.Sprintf("Drop view %s?", args[0])
			if deps := len(plan.Order) - 1; deps > 0 {
				question = fmt.Sprintf("Drop %d views?", len(plan.Order))
				if !o.json {
					fmt.Fprintf(out, "Will drop %s and the %s built on it, dependents first: %s\n", args[0],
						plural(deps, "managed view"), strings.Join(plan.Order, ", "))
				}
			} else if !o.json {
				fmt.Fprintf(out, "Will drop %s (no managed view is built on it)\n", args[0])
			}
			if !yes {
				ok, err := confirm(cmd, question)
				if err != nil {
					return err
				}
				if !ok {
					return errDropAborted
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

// plural counts n nouns ("1 managed view", "2 managed views").
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
