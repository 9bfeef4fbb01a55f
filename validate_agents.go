package agentmv

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/suggest"
	"github.com/agentmv/agentmv/internal/yamledit"
	"github.com/agentmv/agentmv/tools"
)

// AgentConfig is one entry of the top-level agents list: an agent that gets a Postgres role of
// its own (boundary.AgentRoleName: <runtime role>_<name>) reading and refreshing only Views.
//
//	agents:
//	  - name: support
//	    description: "Customer support assistant"
//	    views: [customer_rollup]
//	    token_env: SUPPORT_MCP_TOKEN            # its bearer token on `agent-mv serve`
//	    password_env: SUPPORT_DB_PASSWORD       # default AGENT_MV_AGENT_SUPPORT_PASSWORD
//	    tools: [list_views, query_view, open_tickets_for]   # optional; see Config.AgentTools
//
// New per-agent settings are one more key in agentKeys and one more field.
type AgentConfig struct {
	// Name is the agent's name: a lower-case identifier, unique in the file.
	Name string
	// Description says who the agent is (shown to operators, never to other agents).
	Description string
	// Views are the managed views (names from the views list) the agent may read and refresh.
	Views []string
	// TokenEnv names the environment variable holding the agent's bearer token on HTTP
	// (`agent-mv serve`, `mcp runtime --http`). Empty: the agent is not served over HTTP.
	TokenEnv string
	// PasswordEnv names the variable holding its role's password (apply sets it when it
	// creates the role; the runtime servers log in with it). Default
	// boundary.DefaultAgentPasswordEnv(Name): AGENT_MV_AGENT_<NAME>_PASSWORD.
	PasswordEnv string
	// Tools are the tools the agent is served, by name: built-in runtime tools
	// (tools.RuntimeToolNames) and tools of the tools list. Nil (no tools key): every built-in
	// and every declared tool that reads only the agent's views (Config.AgentTools).
	Tools []string
	// ToolsLine is the line of the tools key (0 when absent).
	ToolsLine int
	// Line is the entry's line in the YAML file.
	Line int
}

// Agent returns the agent with the given name.
func (c *Config) Agent(name string) (AgentConfig, bool) {
	for _, a := range c.Agents {
		if a.Name == name {
			return a, true
		}
	}
	return AgentConfig{}, false
}

var agentKeys = []string{"name", "description", "views", "token_env", "password_env", "tools"}

// envNamePattern is what a token_env or password_env value must look like.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (v *validator) agents(n *yaml.Node) {
	if yamledit.IsNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		v.bad(n.Line, "agents must be a list of agents (name, description, views, token_env), got %s", kindName(n))
		return
	}
	agents := namedItems(v, n, "agents", "name, description, views and token_env", v.agent,
		func(a AgentConfig) (string, int) { return a.Name, a.Line },
		func(a AgentConfig, first int) {
			v.bad(a.Line, "agent %q is already defined at line %d; agent names must be unique", a.Name, first)
		})
	v.cfg.Agents = append(v.cfg.Agents, agents...)
}

func (v *validator) agent(m *yaml.Node, idx int) (AgentConfig, bool) {
	a := AgentConfig{Line: m.Line}
	label := itemLabel(m, "agents", "agent", idx)
	before := len(v.invalid)
	var haveName, haveViews bool
	envKey := func(val *yaml.Node, key string) string {
		s, ok := v.str(val, label+": "+key)
		if !ok {
			return ""
		}
		if !envNamePattern.MatchString(s) {
			v.bad(val.Line, "%s: %s must name an environment variable (letters, digits and _, e.g. SUPPORT_MCP_TOKEN), got %q; put the secret itself in that variable, never in this file", label, key, s)
			return ""
		}
		return s
	}
	for _, kv := range v.pairs(m, label) {
		k, val := kv[0], kv[1]
		switch k.Value {
		case "name":
			haveName = true
			if s, ok := v.str(val, label+": name"); ok {
				if err := boundary.ValidateIdentifier("agent name", s); err != nil {
					v.bad(val.Line, "%v", err)
				}
				a.Name = s
			}
		case "description":
			if s, ok := v.str(val, label+": description"); ok {
				a.Description = s
			}
		case "views":
			haveViews = true
			a.Views = v.agentNameList(val, label, "views", "view")
		case "tools":
			a.ToolsLine = k.Line
			a.Tools = v.agentNameList(val, label, "tools", "tool")
		case "token_env":
			a.TokenEnv = envKey(val, "token_env")
		case "password_env":
			a.PasswordEnv = envKey(val, "password_env")
		default:
			v.unknownKey(k, label, agentKeys)
		}
	}
	if !haveName {
		v.bad(m.Line, "%s: name is required", label)
	}
	if !haveViews {
		v.bad(m.Line, "%s: views is required: the managed views this agent may read (use `views: []` for none)", label)
	}
	if a.PasswordEnv == "" && a.Name != "" {
		a.PasswordEnv = boundary.DefaultAgentPasswordEnv(a.Name)
	}
	return a, len(v.invalid) == before
}

// agentNameList reads an agent's list of names (key views or tools; what names one entry). A
// null is an empty list.
func (v *validator) agentNameList(n *yaml.Node, label, key, what string) []string {
	if !v.list(n, label, key, "a list of "+what+" names", "") {
		return []string{}
	}
	out := []string{}
	for _, it := range n.Content {
		it = yamledit.Resolve(it)
		s, ok := v.str(it, label+": "+key+" entry")
		if !ok {
			continue
		}
		if slices.Contains(out, s) {
			v.bad(it.Line, "%s: %s %q is listed twice", label, what, s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// agentViews checks, once every view and tool is read, that each agent lists only views and
// tools of the file (or built-in tools), and that no two agents share a token variable.
func (v *validator) agentViews() {
	declared := make([]string, 0, len(v.cfg.Views))
	for _, vc := range v.cfg.Views {
		declared = append(declared, vc.Name)
	}
	toolNames := tools.RuntimeToolNames()
	for _, tc := range v.cfg.Tools {
		toolNames = append(toolNames, tc.Name)
	}
	tokens := map[string]string{}
	for _, a := range v.cfg.Agents {
		for _, name := range a.Views {
			if !slices.Contains(declared, name) {
				msg := fmt.Sprintf("agent %q: view %q is not in the views list", a.Name, name)
				if c, ok := suggest.Closest(name, declared); ok {
					msg += fmt.Sprintf("; did you mean %q?", c)
				}
				v.bad(a.Line, "%s (an agent may read managed views only)", msg)
			}
		}
		for _, name := range a.Tools {
			if !slices.Contains(toolNames, name) {
				msg := fmt.Sprintf("agent %q: tools: no tool named %q", a.Name, name)
				if c, ok := suggest.Closest(name, toolNames); ok {
					msg += fmt.Sprintf("; did you mean %q?", c)
				}
				v.bad(a.ToolsLine, "%s (an agent's tools are built-in runtime tools (%s) or tools of the tools list)", msg, strings.Join(tools.RuntimeToolNames(), ", "))
			}
		}
		if a.TokenEnv != "" {
			if other, dup := tokens[a.TokenEnv]; dup {
				v.bad(a.Line, "agents %q and %q both take their token from %s; each agent needs a token of its own (the token says which agent is calling)", other, a.Name, a.TokenEnv)
			}
			tokens[a.TokenEnv] = a.Name
		}
	}
}

// ToolSelection is what one agent is served (Config.AgentTools).
type ToolSelection struct {
	// Builtins are the built-in runtime tools it gets; nil means all of them.
	Builtins []string
	// Tools are the declared tools (materialize.yaml's tools list) it gets, in file order.
	Tools []tools.ToolSpec
}

// AgentTools is the one rule for which tools agent gets. With a tools key: exactly the listed
// built-ins and declared tools (LoadConfig has refused a declared tool that reads a view the
// agent may not read). Without one: every built-in, and every declared tool whose views are
// all among the agent's views (a tool reading another agent's view would only fail, so it is
// not offered). False when there is no such agent.
func (c *Config) AgentTools(agent string) (ToolSelection, bool) {
	a, ok := c.Agent(agent)
	if !ok {
		return ToolSelection{}, false
	}
	var sel ToolSelection
	if a.Tools != nil {
		sel.Builtins = []string{}
		for _, name := range tools.RuntimeToolNames() {
			if slices.Contains(a.Tools, name) {
				sel.Builtins = append(sel.Builtins, name)
			}
		}
	}
	for _, tc := range c.Tools {
		if a.Tools != nil && !slices.Contains(a.Tools, tc.Name) {
			continue
		}
		if a.Tools == nil && len(c.unreadable(a, tc)) > 0 {
			continue
		}
		sel.Tools = append(sel.Tools, tc.ToolSpec)
	}
	return sel, true
}

// unreadable are the managed views declared tool tc reads that agent a may not read.
func (c *Config) unreadable(a AgentConfig, tc ToolConfig) []string {
	var out []string
	for _, r := range tc.Reads {
		if _, managed := c.View(r); managed && !slices.Contains(a.Views, r) {
			out = append(out, r)
		}
	}
	return out
}

// checkAgentTools refuses, once the tools' SQL is compiled, a declared tool listed in an
// agent's tools that reads a view the agent may not read.
func (c *Config) checkAgentTools() error {
	var probs []Problem
	for _, a := range c.Agents {
		for _, tc := range c.Tools {
			if !slices.Contains(a.Tools, tc.Name) {
				continue
			}
			for _, view := range c.unreadable(a, tc) {
				probs = append(probs, Problem{Line: a.ToolsLine, Message: fmt.Sprintf(
					"agent %q: tool %q reads view %q, which agent %q may not read; add %q to the agent's views or take %q off its tools",
					a.Name, tc.Name, view, a.Name, view, tc.Name)})
			}
		}
	}
	if len(probs) > 0 {
		return problemsError(c.display, "invalid config", probs)
	}
	return nil
}
