package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
)

func newDoctorCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Verify roles, schema, and the access boundary",
		Args:  cobra.NoArgs,
		RunE: o.withProject(func(cmd *cobra.Command, p *agentmv.Project, _ []string) error {
			rep, err := p.Doctor(cmd.Context())
			if err != nil {
				return err
			}
			if o.json {
				if err := printJSON(cmd, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprint(cmd.OutOrStdout(), rep.String())
			}
			if !rep.OK() {
				return errors.New("doctor found problems (✗ above); fix them and re-run `agent-mv doctor`")
			}
			return nil
		}),
	}
}
