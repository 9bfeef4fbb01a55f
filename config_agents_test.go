package agentmv

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAgentsKey reads the agents list: names, views, token_env and the default password_env.
func TestAgentsKey(t *testing.T) {
	body := "version: 1\ntarget_schema: s\nviews:\n" + view("a") + view("b") + `agents:
  - name: support
    description: Support
    views: [a]
    token_env: SUPPORT_TOKEN
  - name: finance
    views: [b, a]
    password_env: FIN_PW
`
	cfg, err := LoadConfig(writeProject(t, body, map[string]string{"materialize/a.sql": okSQL}))
	if err != nil {
		t.Fatal(err)
	}
	want := []AgentConfig{
		{Name: "support", Description: "Support", Views: []string{"a"}, TokenEnv: "SUPPORT_TOKEN", PasswordEnv: "AGENT_MV_AGENT_SUPPORT_PASSWORD", Line: 11},
		{Name: "finance", Views: []string{"b", "a"}, PasswordEnv: "FIN_PW", Line: 15},
	}
	if d := cmp.Diff(want, cfg.Agents); d != "" {
		t.Errorf("agents (-want +got):\n%s", d)
	}
	// Secrets come from the named variables, never from the file.
	s, err := ResolveSettings(Settings{}, cfg, "", func(k string) (string, bool) {
		v, ok := map[string]string{"SUPPORT_TOKEN": "tok", "AGENT_MV_AGENT_SUPPORT_PASSWORD": "pw1", "FIN_PW": "pw2"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"support": "pw1", "finance": "pw2"}, s.AgentPasswords); d != "" {
		t.Errorf("passwords (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"support": "tok"}, s.AgentTokens); d != "" {
		t.Errorf("tokens (-want +got):\n%s", d)
	}
	if str := s.String(); strings.Contains(str, "pw1") || strings.Contains(str, "tok") {
		t.Errorf("settings print a secret: %s", str)
	}
	if got := s.Redact("login failed for pw2 with tok"); strings.Contains(got, "pw2") || strings.Contains(got, "tok ") {
		t.Errorf("Redact keeps a secret: %s", got)
	}
}

func TestAgentsKeyErrors(t *testing.T) {
	head := "version: 1\ntarget_schema: s\nviews:\n" + view("a") + view("b")
	tests := []struct{ name, agents, want string }{
		{"not a list", "agents: support\n", "line 10: agents must be a list of agents (name, description, views, token_env), got str \"support\""},
		{"unknown view", "agents:\n  - name: x\n    views: [aa]\n", `line 11: agent "x": view "aa" is not in the views list; did you mean "a"? (an agent may read managed views only)`},
		{"no views key", "agents:\n  - name: x\n", `line 11: agent "x": views is required`},
		{"no name", "agents:\n  - views: [a]\n", "line 11: agents[0]: name is required"},
		{"bad name", "agents:\n  - name: Sales\n    views: [a]\n", `agent name "Sales" must match`},
		{"duplicate agent", "agents:\n  - name: x\n    views: [a]\n  - name: x\n    views: [b]\n", `line 13: agent "x" is already defined at line 11`},
		{"duplicate view", "agents:\n  - name: x\n    views: [a, a]\n", `agent "x": view "a" is listed twice`},
		{"token in the file", "agents:\n  - name: x\n    views: [a]\n    token_env: 'sk-123 456'\n", `token_env must name an environment variable`},
		{"shared token", "agents:\n  - name: x\n    views: [a]\n    token_env: T\n  - name: y\n    views: [b]\n    token_env: T\n", `agents "x" and "y" both take their token from T`},
		{"typo in a key", "agents:\n  - name: x\n    view: [a]\n", `unknown key "view" in agent "x"; did you mean "views"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(writeProject(t, head+tt.agents, map[string]string{"materialize/a.sql": okSQL}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant it to contain %s", err, tt.want)
			}
		})
	}
}

// TestRemoveViewFromAgents: removing a view also removes it from every agent's list, so the
// file stays valid.
func TestRemoveViewFromAgents(t *testing.T) {
	body := "version: 1\ntarget_schema: s\nviews:\n" + view("a") + view("b") + "agents:\n  - name: x\n    views: [a, b]\n  - name: y\n    views:\n      - b\n"
	path := writeProject(t, body, map[string]string{"materialize/a.sql": okSQL})
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.RemoveView("b"); err != nil {
		t.Fatal(err)
	}
	cfg, err = LoadConfig(path)
	if err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("the file no longer loads: %v\n%s", err, b)
	}
	if x, _ := cfg.Agent("x"); !cmp.Equal(x.Views, []string{"a"}) {
		t.Errorf("x views %v", x.Views)
	}
	if y, _ := cfg.Agent("y"); len(y.Views) != 0 {
		t.Errorf("y views %v", y.Views)
	}
}

// agentToolsHead is a file with views a, b, c and one declared tool per view (ta reads a, tb
// reads b, tbc reads b and c); the agents list follows.
const agentToolsHead = "version: 1\ntarget_schema: s\nviews:\n" + `  - name: a
    sql_file: materialize/a.sql
    description: d
  - name: b
    sql_file: materialize/a.sql
    description: d
  - name: c
    sql_file: materialize/a.sql
    description: d
tools:
  - name: ta
    description: reads a
    sql: SELECT n FROM a
  - name: tb
    description: reads b
    sql: SELECT n FROM b
  - name: tbc
    description: reads b and c
    sql: SELECT b.n FROM b JOIN s.c USING (n)
  - name: tmeta
    description: reads the registry only
    sql: SELECT name FROM views
`

// TestAgentToolSelection: an agent's tools key selects built-ins and declared tools by name;
// without it the agent gets every built-in and the declared tools that read only its views.
func TestAgentToolSelection(t *testing.T) {
	body := agentToolsHead + `agents:
  - name: x
    views: [a, b]
    tools: [list_views, query_view, tb]
  - name: y
    views: [b, c]
  - name: z
    views: [a]
    tools: []
`
	cfg, err := LoadConfig(writeProject(t, body, map[string]string{"materialize/a.sql": okSQL}))
	if err != nil {
		t.Fatal(err)
	}
	names := func(sel ToolSelection) []string {
		var out []string
		for _, s := range sel.Tools {
			out = append(out, s.Name)
		}
		return out
	}
	for _, tt := range []struct {
		agent    string
		builtins []string
		declared []string
	}{
		{"x", []string{"list_views", "query_view"}, []string{"tb"}},
		{"y", nil, []string{"tb", "tbc", "tmeta"}}, // nil: all five built-ins; ta reads a, which y may not read
		{"z", []string{}, nil},
	} {
		sel, ok := cfg.AgentTools(tt.agent)
		if !ok {
			t.Fatalf("no agent %s", tt.agent)
		}
		if !cmp.Equal(sel.Builtins, tt.builtins) || !cmp.Equal(names(sel), tt.declared) {
			t.Errorf("agent %s: built-ins %#v declared %v, want %#v %v", tt.agent, sel.Builtins, names(sel), tt.builtins, tt.declared)
		}
	}
	if _, ok := cfg.AgentTools("nobody"); ok {
		t.Error("AgentTools of an unknown agent")
	}
	// The runtime settings carry each agent's selection to OpenAgentRuntime.
	s, err := RuntimeSettings(Options{ConfigPath: cfg.Path, DotenvPath: "-", Overrides: Settings{RuntimeURL: "postgres://x@h/db"}, Environ: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(s.AgentTools["x"]); !cmp.Equal(got, []string{"tb"}) {
		t.Errorf("Settings.AgentTools[x] = %v", got)
	}
}

// TestAgentToolsErrors: an unknown tool name is refused with its line and the closest name; a
// declared tool that reads a view the agent may not read is refused naming tool, view and agent.
func TestAgentToolsErrors(t *testing.T) {
	tests := []struct{ name, agents, want string }{
		{"unknown built-in", "agents:\n  - name: x\n    views: [a]\n    tools: [query_veiw]\n",
			`line 29: agent "x": tools: no tool named "query_veiw"; did you mean "query_view"? (an agent's tools are built-in runtime tools (list_views, describe_view, query_view, refresh_view, get_lineage) or tools of the tools list)`},
		{"unknown declared", "agents:\n  - name: x\n    views: [a]\n    tools:\n      - list_views\n      - tbd\n",
			`line 29: agent "x": tools: no tool named "tbd"; did you mean "tb"?`},
		{"other agent's view", "agents:\n  - name: x\n    views: [a, b]\n    tools: [ta, tbc]\n",
			`line 29: agent "x": tool "tbc" reads view "c", which agent "x" may not read; add "c" to the agent's views or take "tbc" off its tools`},
		{"listed twice", "agents:\n  - name: x\n    views: [a]\n    tools: [ta, ta]\n", `agent "x": tool "ta" is listed twice`},
		{"not a list", "agents:\n  - name: x\n    views: [a]\n    tools: ta\n", `agent "x": tools must be a list of tool names, got str "ta"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(writeProject(t, agentToolsHead+tt.agents, map[string]string{"materialize/a.sql": okSQL}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant it to contain %s", err, tt.want)
			}
		})
	}
}
