package skills

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agentmv/agentmv/internal/fileio"
)

// Prefix is prepended to every installed skill directory and slash command, so the files
// are recognisable and never collide with the user's own.
const Prefix = "agent-materialize-"

// Server names wired into .mcp.json (the seed's names).
const (
	SetupServer   = "agent-materialize-setup"
	RuntimeServer = "agent-materialize-runtime"
)

//go:embed setup-database/SKILL.md querying-views/SKILL.md adding-a-view/SKILL.md troubleshoot-refresh/SKILL.md commands/*.md mcp.json
var content embed.FS

// Names lists the shipped skills in a stable order; each is <name>/SKILL.md in FS.
var Names = []string{"setup-database", "querying-views", "adding-a-view", "troubleshoot-refresh"}

// Commands lists the shipped slash commands in a stable order; each is commands/<name>.md in FS.
var Commands = []string{"onboard", "add-view", "troubleshoot"}

// FS returns the embedded files: <skill>/SKILL.md, commands/<command>.md and mcp.json.
func FS() fs.FS { return content }

// MCPConfig returns the .mcp.json template wiring the setup and runtime servers.
func MCPConfig() []byte {
	b, err := content.ReadFile("mcp.json")
	if err != nil {
		panic("skills: embedded mcp.json missing: " + err.Error()) // impossible: go:embed
	}
	return b
}

// Action says what Install did with one file.
type Action string

// Actions reported by Install.
const (
	Created   Action = "created"
	Updated   Action = "updated"   // existed with other content, overwritten because of Force
	Unchanged Action = "unchanged" // existed with identical content
	Skipped   Action = "skipped (modified; use --force)"
	// Kept is used for an existing .mcp.json, which Install never rewrites.
	Kept Action = "kept (existing file)"
)

// InstallOptions controls Install.
type InstallOptions struct {
	// Force overwrites skill and command files whose content differs from the shipped one.
	// It never rewrites .mcp.json.
	Force bool
}

// FileResult is the outcome for one path.
type FileResult struct {
	// Path is relative to the install directory, with forward slashes.
	Path   string `json:"path"`
	Action Action `json:"action"`
	// Note explains a skipped or kept file, e.g. which MCP servers .mcp.json lacks.
	Note string `json:"note,omitempty"`
	// Add is the JSON to merge by hand into a kept file: for .mcp.json, the mcpServers entries
	// it lacks.
	Add string `json:"add,omitempty"`
}

// Report lists every file Install considered, in a stable order.
type Report struct {
	Files []FileResult `json:"files"`
}

// Changed reports whether Install wrote anything.
func (r Report) Changed() bool {
	for _, f := range r.Files {
		if f.Action == Created || f.Action == Updated {
			return true
		}
	}
	return false
}

// String renders the report one line per file, e.g. "  created  .claude/skills/…/SKILL.md".
func (r Report) String() string {
	var b strings.Builder
	for _, f := range r.Files {
		fmt.Fprintf(&b, "  %s  %s", f.Action, f.Path)
		if f.Note != "" {
			fmt.Fprintf(&b, " — %s", f.Note)
		}
		b.WriteByte('\n')
		for _, line := range strings.Split(f.Add, "\n") {
			if line != "" {
				fmt.Fprintf(&b, "      %s\n", line)
			}
		}
	}
	return b.String()
}

// Install writes the skills to dir/.claude/skills/agent-materialize-<name>/SKILL.md, the
// slash commands to dir/.claude/commands/agent-materialize-<command>.md (plain copies, so
// they survive moving the binary), and dir/.mcp.json when it does not exist.
//
// It never overwrites a file silently: an existing file with the shipped content is
// Unchanged; with other content it is Skipped unless opts.Force is set (then Updated). An
// existing .mcp.json is always Kept; when it lacks our servers, the report's note says which.
// Install stops at the first I/O error and returns the report so far.
func Install(dir string, opts InstallOptions) (Report, error) {
	var rep Report
	put := func(rel string, data []byte) error {
		res, err := installFile(dir, rel, data, opts.Force)
		rep.Files = append(rep.Files, res)
		return err
	}
	for _, name := range Names {
		data, err := content.ReadFile(name + "/SKILL.md")
		if err != nil {
			return rep, fmt.Errorf("skills: embedded skill %s missing: %w", name, err)
		}
		if err := put(".claude/skills/"+Prefix+name+"/SKILL.md", data); err != nil {
			return rep, err
		}
	}
	for _, name := range Commands {
		data, err := content.ReadFile("commands/" + name + ".md")
		if err != nil {
			return rep, fmt.Errorf("skills: embedded command %s missing: %w", name, err)
		}
		if err := put(".claude/commands/"+Prefix+name+".md", data); err != nil {
			return rep, err
		}
	}
	res, err := installMCP(dir)
	rep.Files = append(rep.Files, res)
	return rep, err
}

func installFile(dir, rel string, data []byte, force bool) (FileResult, error) {
	res := FileResult{Path: rel}
	path := filepath.Join(dir, filepath.FromSlash(rel))
	old, err := readRegular(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Action = Created
	case err != nil:
		return res, err
	case bytes.Equal(old, data):
		res.Action = Unchanged
		return res, nil
	case !force:
		res.Action = Skipped
		res.Note = "differs from the shipped version"
		return res, nil
	default:
		res.Action = Updated
	}
	if err := writeFile(path, data); err != nil {
		return res, err
	}
	return res, nil
}

func installMCP(dir string) (FileResult, error) {
	const rel = ".mcp.json"
	res := FileResult{Path: rel}
	path := filepath.Join(dir, rel)
	old, err := readRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		res.Action = Created
		return res, writeFile(path, MCPConfig())
	}
	if err != nil {
		return res, err
	}
	res.Action = Kept
	if bytes.Equal(old, MCPConfig()) {
		res.Action = Unchanged
		return res, nil
	}
	var cfg, shipped struct {
		MCPServers map[string]mcpServer `json:"mcpServers"`
	}
	if err := json.Unmarshal(MCPConfig(), &shipped); err != nil {
		return res, fmt.Errorf("skills: embedded mcp.json: %w", err) // impossible: tested
	}
	if err := json.Unmarshal(old, &cfg); err != nil {
		res.Note = "not valid JSON (" + err.Error() + "); fix it, then add these entries to its mcpServers"
		res.Add = mcpEntries(shipped.MCPServers, []string{SetupServer, RuntimeServer})
		return res, nil
	}
	var missing, differ []string
	for _, s := range []string{SetupServer, RuntimeServer} {
		got, ok := cfg.MCPServers[s]
		switch {
		case !ok:
			missing = append(missing, s)
		case got.Command != shipped.MCPServers[s].Command || !slices.Equal(got.Args, shipped.MCPServers[s].Args):
			differ = append(differ, fmt.Sprintf("%s runs %q", s, strings.TrimSpace(got.Command+" "+strings.Join(got.Args, " "))))
		}
	}
	var notes []string
	if len(missing) > 0 {
		notes = append(notes, "lacks "+strings.Join(missing, " and ")+"; add these entries to its mcpServers")
		res.Add = mcpEntries(shipped.MCPServers, missing)
	}
	if len(differ) > 0 {
		notes = append(notes, strings.Join(differ, ", ")+"; the shipped entries run `agent-mv mcp setup` and `agent-mv mcp runtime`, which the README's install provides (change yours if that command is not on PATH)")
	}
	res.Note = strings.Join(notes, "; ")
	return res, nil
}

// mcpServer is one entry of .mcp.json's mcpServers.
type mcpServer struct {
	Command string            `json:"command"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

// mcpEntries renders the named entries as `"name": {...}` lines to paste into mcpServers.
func mcpEntries(servers map[string]mcpServer, names []string) string {
	var parts []string
	for _, name := range names {
		b, err := json.Marshal(servers[name])
		if err != nil {
			continue // plain strings: cannot fail
		}
		parts = append(parts, fmt.Sprintf("%q: %s", name, b))
	}
	return strings.Join(parts, ",\n")
}

// readRegular reads path, refusing directories and other non-regular files with a clear error.
func readRegular(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeSymlink == 0 {
		return nil, fmt.Errorf("skills: %s exists and is not a regular file; move it away and re-run", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("skills: read %s: %w", path, err)
	}
	return b, nil
}

// writeFile writes atomically (internal/fileio) so an interrupted install never leaves
// a half-written skill. A symlink at path is replaced by a regular file.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("skills: create %s: %w", filepath.Dir(path), err)
	}
	if err := fileio.WriteAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("skills: write %s: %w", path, err)
	}
	return nil
}
