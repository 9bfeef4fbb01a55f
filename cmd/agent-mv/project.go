package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/agentmv/agentmv"
)

// openProject loads materialize.yaml and the settings for a verb.
func (o *rootOptions) openProject(cmd *cobra.Command) (*agentmv.Project, error) {
	return agentmv.Open(cmd.Context(), agentmv.Options{
		ConfigPath: o.configPath,
		Overrides:  o.overrides(),
		Logger:     o.logger(cmd),
	})
}

// isTerminal reports whether f is an interactive terminal (not merely a character device such
// as /dev/null): it asks for the terminal's attributes.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// confirm asks a yes/no question on the terminal; without a terminal it refuses to guess.
func confirm(cmd *cobra.Command, question string) (bool, error) {
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !isTerminal(in) {
		return false, fmt.Errorf("%q needs an answer, but there is no terminal to ask on; re-run with --yes to confirm", question)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s [y/N]: ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// withProject adapts a verb that needs the project: it opens it (materialize.yaml and the
// settings) and closes its pools when the verb returns.
func (o *rootOptions) withProject(run func(cmd *cobra.Command, p *agentmv.Project, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		p, err := o.openProject(cmd)
		if err != nil {
			return err
		}
		defer p.Close()
		return run(cmd, p, args)
	}
}

// completeViewNames is the shell completion of a verb's view name: the views of
// materialize.yaml (--config, or the nearest one upward), read without connecting to the
// database. Only the first argument is a view.
func (o *rootOptions) completeViewNames(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	path := o.projectFile()
	if path == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cfg, err := agentmv.LoadConfig(path)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []cobra.Completion
	for _, v := range cfg.Views {
		if strings.HasPrefix(v.Name, toComplete) {
			names = append(names, cobra.CompletionWithDesc(v.Name, v.Description))
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// projectFile is the materialize.yaml the verbs use: --config, else the nearest one from the
// working directory upward (agentmv.FindConfig); "" when there is none.
func (o *rootOptions) projectFile() string {
	if o.configPath != "" {
		return o.configPath
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	return agentmv.FindConfig(wd)
}
