package agentmv

import (
	"fmt"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/suggest"
	"github.com/agentmv/agentmv/internal/yamledit"
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
//
// New per-agent settings (e.g. a tools list) are one more key in agentKeys and one more field.
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

var agentKeys = []string{"name", "description", "views", "token_env", "password_env"}

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
	label := fmt.Sprintf("agents[%d]", idx)
	if i := yamledit.Key(m, "name"); i >= 0 {
		if n := yamledit.Resolve(m.Content[i+1]); n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value != "" {
			label = fmt.Sprintf("agent %q", n.Value)
		}
	}
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
			a.Views = v.agentViewList(val, label)
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

func (v *validator) agentViewList(n *yaml.Node, label string) []string {
	if !v.list(n, label, "views", "a list of view names", "") {
		return []string{}
	}
	out := []string{}
	for _, it := range n.Content {
		it = yamledit.Resolve(it)
		s, ok := v.str(it, label+": views entry")
		if !ok {
			continue
		}
		if slices.Contains(out, s) {
			v.bad(it.Line, "%s: view %q is listed twice", label, s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// agentViews checks, once every view is read, that each agent lists only views of the file,
// and that no two agents share a token variable.
func (v *validator) agentViews() {
	declared := make([]string, 0, len(v.cfg.Views))
	for _, vc := range v.cfg.Views {
		declared = append(declared, vc.Name)
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
		if a.TokenEnv != "" {
			if other, dup := tokens[a.TokenEnv]; dup {
				v.bad(a.Line, "agents %q and %q both take their token from %s; each agent needs a token of its own (the token says which agent is calling)", other, a.Name, a.TokenEnv)
			}
			tokens[a.TokenEnv] = a.Name
		}
	}
}
