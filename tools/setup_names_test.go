package tools_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/tools"
)

// TestSetupToolsUseApplysNameRule: propose_view and finalize_config refuse exactly the view
// names apply refuses, with apply's message: a reserved word, one of agentmv's own tables, a
// pg_ name. Before the rule was shared, propose_view staged these and apply failed later.
func TestSetupToolsUseApplysNameRule(t *testing.T) {
	t.Parallel()
	se := setupSession(t)
	// One valid proposal, so finalize_config has a staging file to check names against.
	call(t, se.cs, "propose_view", map[string]any{"name": "customer_ids", "sql": "SELECT id FROM public.customers", "rationale": "r"})
	for _, name := range []string{"select", "views", "pg_views", "refresh_history", "user"} {
		t.Run(name, func(t *testing.T) {
			applyMsg := applyRefusal(t, name)

			te := toolErr(t, call(t, se.cs, "propose_view", map[string]any{
				"name": name, "sql": "SELECT id FROM public.customers", "rationale": "r"}))
			if te.ErrorType != tools.ErrInvalidArgument || !strings.HasSuffix(applyMsg, ": "+te.Message) {
				t.Errorf("propose_view %q: %s %q\napply says: %s", name, te.ErrorType, te.Message, applyMsg)
			}
			staged, err := os.ReadFile(filepath.Join(se.root, tools.StagingFileName))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(staged), "name: "+name+"\n") {
				t.Errorf("propose_view %q staged it:\n%s", name, staged)
			}

			te = toolErr(t, call(t, se.cs, "finalize_config", map[string]any{"approved_names": []string{name}}))
			if te.ErrorType != tools.ErrInvalidArgument || !strings.HasSuffix(applyMsg, ": "+te.Message) {
				t.Errorf("finalize_config %q: %s %q\napply says: %s", name, te.ErrorType, te.Message, applyMsg)
			}
		})
	}
	if len(se.added) != 0 {
		t.Errorf("finalize_config added views: %v", se.added)
	}
}

// applyRefusal returns the error `agent-mv apply` gives for a materialize.yaml with a view of
// that name (apply opens the project first, which refuses it).
func applyRefusal(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "v.sql"), []byte("SELECT 1 AS x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "version: 1\ntarget_schema: agent_mv\nviews:\n  - name: " + name + "\n    sql_file: v.sql\n    description: d\n"
	path := filepath.Join(dir, "materialize.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := agentmv.Open(context.Background(), agentmv.Options{ConfigPath: path, DotenvPath: "-",
		Environ: func(string) (string, bool) { return "", false }})
	if err == nil {
		p.Close()
		t.Fatalf("apply accepts a view named %q", name)
	}
	return err.Error()
}
