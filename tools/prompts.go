package tools

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/skills"
)

// Prompt is an MCP prompt a [Registry] serves next to its tools (prompts/list, prompts/get),
// so a client without agentmv's Claude Code skills still gets their guidance.
type Prompt struct {
	Def     *mcp.Prompt
	Handler mcp.PromptHandler
}

// AddPrompts adds prompts; a name already taken is an error and none is added.
func (r *Registry) AddPrompts(ps ...Prompt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range ps {
		if p.Def == nil || p.Def.Name == "" || p.Handler == nil {
			return fmt.Errorf("tools: add prompt: a prompt needs a name and a handler")
		}
		taken := slices.ContainsFunc(r.prompts, func(q Prompt) bool { return q.Def.Name == p.Def.Name }) ||
			slices.ContainsFunc(ps[:i], func(q Prompt) bool { return q.Def.Name == p.Def.Name })
		if taken {
			return fmt.Errorf("tools: add prompt: duplicate prompt name %q", p.Def.Name)
		}
	}
	r.prompts = append(r.prompts, ps...)
	return nil
}

// Prompts returns the registry's prompts sorted by name.
func (r *Registry) Prompts() []Prompt {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := slices.Clone(r.prompts)
	slices.SortFunc(out, func(a, b Prompt) int { return strings.Compare(a.Def.Name, b.Def.Name) })
	return out
}

// Prompt names: the runtime server's querying guidance, the setup server's onboarding and
// add-a-view flows (the shipped skills of the same meaning, see [SkillPrompt]).
const (
	PromptQueryViews = "query-views"
	PromptOnboard    = "onboard"
	PromptAddView    = "add-view"
)

// runtimePrompts are the runtime server's prompts on schema.
func runtimePrompts(schema string) ([]Prompt, error) {
	p, err := SkillPrompt(PromptQueryViews, "querying-views", schema,
		&mcp.PromptArgument{Name: "question", Description: "The question to answer from the views (optional)"})
	if err != nil {
		return nil, err
	}
	return []Prompt{p}, nil
}

// setupPrompts are the setup server's prompts on schema.
func setupPrompts(schema string) ([]Prompt, error) {
	onboard, err := SkillPrompt(PromptOnboard, "setup-database", schema,
		&mcp.PromptArgument{Name: "goal", Description: "What the agents should be able to answer (optional)"})
	if err != nil {
		return nil, err
	}
	add, err := SkillPrompt(PromptAddView, "adding-a-view", schema,
		&mcp.PromptArgument{Name: "view", Description: "The view to add: what one row is and which question it answers (optional)"})
	if err != nil {
		return nil, err
	}
	return []Prompt{onboard, add}, nil
}

// defaultSchemaWord matches the default target schema as a word of its own (not the start of
// agent_mv_runtime or AGENT_MV_RUNTIME_URL).
var defaultSchemaWord = regexp.MustCompile(`\b` + boundary.DefaultSchema + `\b`)

// SkillPrompt builds a prompt from a shipped skill (skills.FS(), <skill>/SKILL.md): the
// description is the skill's own, the text its body with the default schema name replaced by
// schema. arg, when given, is an optional argument whose value is appended as the user's
// request. The skill file is the one source: the prompt and the Claude Code skill say the
// same thing.
func SkillPrompt(name, skill, schema string, arg *mcp.PromptArgument) (Prompt, error) {
	if err := boundary.ValidateSchemaName(schema); err != nil {
		return Prompt{}, fmt.Errorf("tools: prompt %s: %w", name, err)
	}
	raw, err := fs.ReadFile(skills.FS(), skill+"/SKILL.md")
	if err != nil {
		return Prompt{}, fmt.Errorf("tools: prompt %s: %w", name, err)
	}
	desc, body := splitFrontMatter(string(raw))
	body = defaultSchemaWord.ReplaceAllLiteralString(body, schema)
	def := &mcp.Prompt{Name: name, Description: desc}
	if arg != nil {
		a := *arg
		def.Arguments = []*mcp.PromptArgument{&a}
	}
	handler := func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		text := body
		if arg != nil && req != nil && req.Params != nil {
			if v := strings.TrimSpace(req.Params.Arguments[arg.Name]); v != "" {
				text += "\n---\n\n" + v + "\n"
			}
		}
		return &mcp.GetPromptResult{Description: desc,
			Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: text}}}}, nil
	}
	return Prompt{Def: def, Handler: handler}, nil
}

// splitFrontMatter returns the description from a skill's YAML front matter and the body
// after it.
func splitFrontMatter(s string) (description, body string) {
	rest, ok := strings.CutPrefix(s, "---\n")
	if !ok {
		return "", s
	}
	head, body, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		return "", s
	}
	for _, line := range strings.Split(head, "\n") {
		if v, ok := strings.CutPrefix(line, "description:"); ok {
			description = strings.TrimSpace(v)
		}
	}
	return description, strings.TrimLeft(body, "\n")
}
