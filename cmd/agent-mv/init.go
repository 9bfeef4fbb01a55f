package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/skills"
	"github.com/agentmv/agentmv/tools"
)

// configTemplate is what init writes to materialize.yaml: the seed's template, and the
// choice of what apply may take from PUBLIC, commented out (apply changes no other role's
// rights unless the file says so).
const configTemplate = `version: 1
target_schema: agent_mv
views: []
# What apply may take away from PUBLIC, i.e. from every role of this database. Left as
# Postgres has it unless you say so here, since other roles may rely on it; ` + "`agent-mv doctor`" + `
# reports what the runtime role can do with it.
# public_privileges:
#   revoke_temporary: true                # only roles granted TEMPORARY may create temp tables
#   revoke_create_on_public_schema: true  # nobody but its owner creates in schema public (granted to PUBLIC before PostgreSQL 15)
`

// envExampleTemplate is what init writes to .env.example (the seed's text).
const envExampleTemplate = `# Connection string with full setup-time privileges (used by agent-mv apply + setup-mcp)
DATABASE_URL=postgresql://USER:PASS@HOST:5432/DBNAME
# Connection string with view-only runtime privileges (used by runtime-mcp).
# The password here MUST match AGENT_MV_RUNTIME_PASSWORD below.
AGENT_MV_RUNTIME_URL=postgresql://agent_mv_runtime:PASS@HOST:5432/DBNAME
# Password set on the runtime role when ` + "`agent-mv apply`" + ` first creates it.
# Must match the password embedded in AGENT_MV_RUNTIME_URL above. Default: agent_mv_runtime.
AGENT_MV_RUNTIME_PASSWORD=PASS
`

// initResult is what init reports (as text, or as JSON with --json).
type initResult struct {
	Dir     string   `json:"dir"`
	Created []string `json:"created"`
	Kept    []string `json:"kept,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	Next    []string `json:"next"`
	// AgentFiles reports the skills, slash commands and .mcp.json installed into .claude/.
	AgentFiles skills.Report `json:"agent_files"`
}

func newInitCmd(o *rootOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Scaffold materialize.yaml, .env.example and materialize/",
		Long: `Scaffold a project in the directory of --config (default: the current directory):
materialize.yaml (an empty view list), .env.example (the connection settings to fill in) and
materialize/ (one SQL file per view), plus the agent files: the four skills as
.claude/skills/agent-materialize-<name>/SKILL.md, the slash commands in .claude/commands/ and
.mcp.json wiring both MCP servers. Refuses to run when materialize.yaml already exists (with
--force it keeps materialize.yaml and updates the agent files); never overwrites an
.env.example or a skill you have edited without --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := o.configPath
			if path == "" { // init creates the project here; it never looks upward
				path = agentmv.ConfigFileName
			}
			res, err := runInit(path, force)
			if err != nil {
				return err
			}
			if res.AgentFiles, err = skills.Install(res.Dir, skills.InstallOptions{Force: force}); err != nil {
				return fmt.Errorf("init: install skills and slash commands: %w", err)
			}
			if o.json {
				return printJSON(cmd, res)
			}
			return printInit(cmd, res)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "keep an existing materialize.yaml and update the skills, slash commands and .mcp.json (overwrites edited copies)")
	return cmd
}

// runInit creates the project files next to configPath. It changes nothing when configPath
// already exists.
func runInit(configPath string, force bool) (*initResult, error) {
	abs, err := filepath.Abs(configPath)
	if err != nil {
		return nil, fmt.Errorf("init: resolve %s: %w", configPath, err)
	}
	name := filepath.Base(abs)
	if _, err := os.Lstat(abs); err == nil && force {
		return &initResult{Dir: filepath.Dir(abs), Kept: []string{name}, Next: []string{"run `agent-mv apply`"}}, nil
	} else if err == nil {
		return nil, fmt.Errorf("%s already exists at %s (nothing was changed; edit it, or remove it to start over)", name, abs)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("init: %w", err)
	}
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("init: create %s: %w", dir, err)
	}
	res := &initResult{Dir: dir}

	// O_EXCL: a file created between the check above and now is never overwritten.
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s already exists at %s (nothing was changed; edit it, or remove it to start over)", name, abs)
	} else if err != nil {
		return nil, fmt.Errorf("init: create %s: %w", abs, err)
	}
	if _, err := f.WriteString(configTemplate); err != nil {
		f.Close()
		return nil, fmt.Errorf("init: write %s: %w", abs, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("init: write %s: %w", abs, err)
	}
	res.Created = append(res.Created, name)

	sqlDir := filepath.Join(dir, "materialize")
	if st, err := os.Stat(sqlDir); err == nil && st.IsDir() {
		res.Kept = append(res.Kept, "materialize/")
	} else if err := os.Mkdir(sqlDir, 0o755); err != nil {
		return nil, fmt.Errorf("init: create %s: %w", sqlDir, err)
	} else {
		res.Created = append(res.Created, "materialize/")
	}

	envExample := filepath.Join(dir, ".env.example")
	switch old, err := os.ReadFile(envExample); {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.WriteFile(envExample, []byte(envExampleTemplate), 0o644); err != nil {
			return nil, fmt.Errorf("init: write %s: %w", envExample, err)
		}
		res.Created = append(res.Created, ".env.example")
	case err != nil:
		return nil, fmt.Errorf("init: read %s: %w", envExample, err)
	case string(old) == envExampleTemplate:
		res.Kept = append(res.Kept, ".env.example")
	default:
		res.Kept = append(res.Kept, ".env.example")
		res.Notes = append(res.Notes, ".env.example already exists and differs from the template; left it unchanged")
	}

	added, err := ensureGitignored(dir, ".env", tools.StagingFileName)
	if err != nil {
		return nil, err
	}
	if len(added) > 0 {
		res.Created = append(res.Created, ".gitignore  (ignores "+strings.Join(added, ", ")+")")
	}

	step1 := "cp .env.example .env, then set DATABASE_URL, AGENT_MV_RUNTIME_URL and AGENT_MV_RUNTIME_PASSWORD in .env"
	if _, err := os.Stat(filepath.Join(dir, ".env")); err == nil {
		step1 = "check that .env sets DATABASE_URL, AGENT_MV_RUNTIME_URL and AGENT_MV_RUNTIME_PASSWORD (see .env.example)"
	}
	res.Next = []string{
		step1,
		"add views to " + name + " with one SQL file each under materialize/ (or let your agent propose them during onboarding)",
		"run `agent-mv apply`",
	}
	return res, nil
}

func printInit(cmd *cobra.Command, res *initResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "✓ initialized agent-materialize in %s\n", res.Dir)
	for _, c := range res.Created {
		if c == "materialize/" {
			b.WriteString("  - materialize/  (empty — your agent fills this during onboarding)\n")
			continue
		}
		fmt.Fprintf(&b, "  - %s\n", c)
	}
	for _, k := range res.Kept {
		fmt.Fprintf(&b, "  - %s  (already there, kept)\n", k)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(&b, "⚠ %s\n", n)
	}
	if len(res.AgentFiles.Files) > 0 {
		b.WriteString("Agent files (skills, slash commands, MCP servers):\n")
		b.WriteString(res.AgentFiles.String())
	}
	b.WriteString("Next:\n")
	for i, n := range res.Next {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, n)
	}
	_, err := fmt.Fprint(cmd.OutOrStdout(), b.String())
	return err
}

// ensureGitignored appends to dir/.gitignore (creating it) each name it does not already
// ignore by that exact line (or "/name"), and returns the names it added.
func ensureGitignored(dir string, names ...string) ([]string, error) {
	path := filepath.Join(dir, ".gitignore")
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("init: read %s: %w", path, err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(old), "\n") {
		have[strings.TrimPrefix(strings.TrimSpace(l), "/")] = true
	}
	var add []string
	for _, n := range names {
		if !have[n] {
			add = append(add, n)
		}
	}
	if len(add) == 0 {
		return nil, nil
	}
	text := string(old)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	text += "# agent-mv: local secrets and the setup agent's staging file\n" + strings.Join(add, "\n") + "\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("init: write %s: %w", path, err)
	}
	return add, nil
}
