package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/boundary"
)

func newPlanCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change (create, rebuild, reindex, drop), without changing anything",
		Args:  cobra.NoArgs,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, _ []string) error {
			plan, err := p.Plan(cmd.Context())
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd, plan)
			}
			fmt.Fprint(cmd.OutOrStdout(), plan.String())
			if len(plan.Blockers) > 0 {
				return &agentmv.BlockedError{Blockers: plan.Blockers}
			}
			return nil
		}),
	}
}

func newApplyCmd(o *rootOptions) *cobra.Command {
	var yes, dryRun, rotate bool
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Diff materialize.yaml against the database; create/update/drop MVs in one transaction",
		Args:  cobra.NoArgs,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			opts := agentmv.ApplyOptions{DryRun: dryRun, RotatePassword: rotate}
			plan, err := p.Plan(ctx)
			if err != nil {
				return err
			}
			if !o.json {
				fmt.Fprint(out, plan.String())
			}
			// With --json an apply that stops before applying answers with the plan too.
			withPlan := func(err error, plan *agentmv.Plan) error {
				if !o.json || plan == nil {
					return err
				}
				return jsonDetails{err, map[string]any{"plan": plan}}
			}
			if len(plan.Blockers) > 0 {
				return withPlan(&agentmv.BlockedError{Blockers: plan.Blockers}, plan)
			}
			if plan.Changes() && !yes && !dryRun {
				q := fmt.Sprintf("Apply these changes to %s?", plan.Schema)
				if drops := plan.Drops(); len(drops) > 0 {
					q = fmt.Sprintf("Apply these changes, dropping %d view(s) (%v)?", len(drops), drops)
				}
				ok, err := confirm(cmd, q)
				if err != nil {
					return withPlan(err, plan)
				}
				if !ok {
					return withPlan(agentmv.ErrNotConfirmed, plan)
				}
			}
			opts.Expect = plan.Fingerprint()
			res, err := p.Apply(ctx, opts)
			if err != nil {
				if errors.Is(err, agentmv.ErrPlanChanged) && res != nil && res.Plan != nil {
					if o.json {
						return withPlan(err, res.Plan)
					}
					fmt.Fprint(cmd.ErrOrStderr(), "The plan is now:\n"+res.Plan.String())
				}
				return err
			}
			if o.json {
				return printJSON(cmd, res)
			}
			for _, c := range res.Bootstrap.Changes {
				fmt.Fprintln(out, "  · "+c)
			}
			for _, d := range res.Drift {
				fmt.Fprintln(out, "⚠ "+d.String())
			}
			for _, c := range res.CronJobs {
				fmt.Fprintln(out, "  · "+c)
			}
			if len(p.Config().Views) == 0 {
				fmt.Fprintln(out, "No views are configured in materialize.yaml, so `agent-mv apply` only bootstrapped the schema/roles and reconciled any existing materialized views.")
				fmt.Fprintln(out, "To choose views interactively, wire up the setup MCP and run the `setup-database` skill, or add view definitions to materialize.yaml and re-run `agent-mv apply`.")
			}
			if dryRun {
				fmt.Fprintf(out, "✓ dry run: every statement ran and was rolled back; nothing changed (%s)\n", res.Elapsed.Round(1e6))
				return nil
			}
			fmt.Fprintf(out, "✓ applied %d view(s) (%s) in %s\n", len(p.Config().Views), res.Plan.Done(), res.Elapsed.Round(1e6))
			if len(res.Exposures) > 0 {
				fmt.Fprintln(out, "The runtime role can still reach what agentmv does not manage (apply changes no other role's rights without materialize.yaml saying so):")
				fmt.Fprint(out, indent(boundary.Report{Checks: res.Exposures}.String(), "  "))
			}
			fmt.Fprintln(out, "Next: `agent-mv doctor` to prove the access boundary, then `agent-mv refresh-all`.")
			return nil
		}),
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "apply without asking (required without a terminal)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "run every statement in a transaction that is rolled back")
	cmd.Flags().BoolVar(&rotate, "rotate-password", false, "set the runtime role's password from AGENT_MV_RUNTIME_PASSWORD even if the role exists")
	return cmd
}

// indent prefixes every line of s with pre.
func indent(s, pre string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(pre + l)
		}
	}
	return b.String()
}
