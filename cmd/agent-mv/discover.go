package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
)

func newDiscoverCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "discover",
		Short: "Summarise schemas, tables, row estimates and keys, and suggest candidate views",
		Long: `discover reads the database as the admin (DATABASE_URL) with the same setup tools an agent
uses during onboarding (list_schemas, list_tables, describe_table) and prints every user schema's
relations with row estimates and keys, plus candidate rollup views along foreign keys. It
changes nothing. To choose views with an agent, wire up the setup MCP server
(agent-mv mcp setup) and run the setup-database skill.`,
		Args: cobra.NoArgs,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, _ []string) error {
			d, err := p.Discover(cmd.Context())
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd, d)
			}
			out := cmd.OutOrStdout()
			for _, s := range d.Schemas {
				fmt.Fprintf(out, "schema %s (%d relations)\n", s.Name, len(s.Tables))
				tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
				fmt.Fprintln(tw, "  name\tkind\trows (est.)\tcolumns\tprimary key\tforeign keys")
				for _, t := range s.Tables {
					rows := "-"
					if t.RowsEstimate != nil {
						rows = fmt.Sprint(*t.RowsEstimate)
					}
					var fks []string
					for _, fk := range t.ForeignKeys {
						fks = append(fks, strings.Join(fk.Columns, ",")+" → "+fk.References)
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", t.Name, t.Kind, rows, t.Columns,
						or(strings.Join(t.PrimaryKey, ","), "-"), or(strings.Join(fks, "; "), "-"))
				}
				tw.Flush()
			}
			if len(d.Candidates) > 0 {
				fmt.Fprintln(out, "\ncandidate views (starting points; review before adding to materialize.yaml):")
				for _, c := range d.Candidates {
					fmt.Fprintf(out, "\n  %s — %s\n", c.Name, c.Rationale)
					for _, line := range strings.Split(c.SQL, "\n") {
						fmt.Fprintln(out, "    "+line)
					}
				}
			}
			fmt.Fprintln(out, "\nNext: ask your agent to run the setup-database skill (agent-mv mcp setup), or add views to materialize.yaml and run `agent-mv plan`.")
			return nil
		}),
	}
}
