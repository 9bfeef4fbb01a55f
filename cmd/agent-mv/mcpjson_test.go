package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/internal/pglocal"
)

// TestInitMCPJSONRunsAfterREADMEInstall installs exactly what the README's `go install
// .../cmd/agent-mv@latest` installs (the agent-mv binary, alone on PATH), runs `agent-mv init`,
// and starts every server .mcp.json names the way an agent client does (command and args looked
// up on PATH, working directory = the project, settings from .env), over a real MCP stdio
// session.
func TestInitMCPJSONRunsAfterREADMEInstall(t *testing.T) {
	t.Parallel()
	built := agentMV(t)
	bindir := t.TempDir() // the GOBIN of the README's install: agent-mv and nothing else
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bindir, "agent-mv"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bindir, "HOME=" + t.TempDir()}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := pglocal.Start(ctx, pglocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bindir, "agent-mv"), args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("agent-mv %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("init")
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(".env", "DATABASE_URL="+c.URL("postgres")+"\nAGENT_MV_RUNTIME_URL="+c.URLFor("agent_mv_runtime", "mcp-json-pw", "postgres")+"\nAGENT_MV_RUNTIME_PASSWORD=mcp-json-pw\n")
	write("materialize.yaml", "version: 1\ntarget_schema: agent_mv\nviews:\n  - name: answer\n    sql_file: materialize/answer.sql\n    description: the answer\n")
	write("materialize/answer.sql", "SELECT 42 AS n\n")
	run("apply", "--yes")

	raw, err := os.ReadFile(filepath.Join(dir, ".mcp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		MCPServers map[string]struct {
			Command string            `json:"command"`
			Args    []string          `json:"args"`
			Env     map[string]string `json:"env"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf(".mcp.json: %v\n%s", err, raw)
	}
	if strings.Contains(string(raw), "mcp-json-pw") || strings.Contains(string(raw), c.Password) {
		t.Errorf(".mcp.json holds a password:\n%s", raw)
	}
	want := map[string]string{"agent-materialize-setup": "list_schemas", "agent-materialize-runtime": "list_views"}
	for name, tool := range want {
		srv, ok := cfg.MCPServers[name]
		if !ok {
			t.Errorf(".mcp.json lacks %s:\n%s", name, raw)
			continue
		}
		// Resolve the command as a client does: on PATH, which holds only the README's install.
		path := filepath.Join(bindir, srv.Command)
		if strings.Contains(srv.Command, "/") || !fileExists(path) {
			t.Errorf("%s: command %q is not installed by the README's `go install` (only agent-mv is)", name, srv.Command)
			continue
		}
		cmd := exec.Command(path, srv.Args...)
		cmd.Dir = dir
		cmd.Env = env
		for k, v := range srv.Env {
			cmd.Env = append(cmd.Env, k+"="+os.Expand(v, func(string) string { return "" }))
		}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "mcp-json-test"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		if err != nil {
			t.Errorf("%s: %s %v does not start an MCP server: %v", name, srv.Command, srv.Args, err)
			continue
		}
		tools, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Errorf("%s: tools/list: %v", name, err)
		} else if !slices.ContainsFunc(tools.Tools, func(tl *mcp.Tool) bool { return tl.Name == tool }) {
			t.Errorf("%s: no %s tool", name, tool)
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}})
		if err != nil || res.IsError {
			t.Errorf("%s: %s: %v %+v", name, tool, err, res)
		} else if b, _ := json.Marshal(res.Content); name == "agent-materialize-runtime" && !strings.Contains(string(b), "answer") {
			t.Errorf("%s: list_views does not list the applied view: %s", name, b)
		}
		cs.Close()
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
