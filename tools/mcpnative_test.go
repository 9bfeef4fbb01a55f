package tools_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/skills"
	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

// skillBody is a shipped skill's text after its front matter.
func skillBody(t *testing.T, skill string) string {
	t.Helper()
	raw, err := fs.ReadFile(skills.FS(), skill+"/SKILL.md")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(strings.TrimPrefix(string(raw), "---\n"), "\n---\n")
	if !ok {
		t.Fatalf("%s has no front matter", skill)
	}
	return strings.TrimLeft(body, "\n")
}

func promptText(t *testing.T, cs *mcp.ClientSession, name string, args map[string]string) string {
	t.Helper()
	res, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("prompts/get %s: %v", name, err)
	}
	if len(res.Messages) != 1 || res.Messages[0].Role != "user" {
		t.Fatalf("prompts/get %s: messages %+v", name, res.Messages)
	}
	tc, ok := res.Messages[0].Content.(*mcp.TextContent)
	if !ok {
		t.Fatalf("prompts/get %s: content %T", name, res.Messages[0].Content)
	}
	return tc.Text
}

// TestPrompts: the runtime server offers the querying guidance and the setup server the
// onboarding and add-a-view flows as MCP prompts, from the skills' own files.
func TestPrompts(t *testing.T) {
	ctx := context.Background()
	_, rcs := runtimeSession(t)
	se := setupSession(t)
	for _, c := range []struct {
		cs    *mcp.ClientSession
		names []string
	}{{rcs, []string{tools.PromptQueryViews}}, {se.cs, []string{tools.PromptAddView, tools.PromptOnboard}}} {
		lp, err := c.cs.ListPrompts(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range lp.Prompts {
			names = append(names, p.Name)
			if p.Description == "" || len(p.Arguments) != 1 || p.Arguments[0].Required {
				t.Errorf("prompt %s: description %q, arguments %+v (want one optional)", p.Name, p.Description, p.Arguments)
			}
		}
		if !slices.Equal(names, c.names) {
			t.Errorf("prompts = %v, want %v", names, c.names)
		}
	}
	// One source: the prompt is the skill's body (the schema here is the default one).
	for _, c := range []struct {
		cs            *mcp.ClientSession
		prompt, skill string
	}{{rcs, tools.PromptQueryViews, "querying-views"}, {se.cs, tools.PromptOnboard, "setup-database"}, {se.cs, tools.PromptAddView, "adding-a-view"}} {
		if got, want := promptText(t, c.cs, c.prompt, nil), skillBody(t, c.skill); got != want {
			t.Errorf("prompt %s is not the %s skill's body:\n%.300s", c.prompt, c.skill, got)
		}
	}
	got := promptText(t, rcs, tools.PromptQueryViews, map[string]string{"question": "Who are the top 3 customers?"})
	if !strings.HasSuffix(got, "\n---\n\nWho are the top 3 customers?\n") || !strings.Contains(got, "list_views") || !strings.Contains(got, "query_view") {
		t.Errorf("query-views with a question:\n%s", got)
	}
	if _, err := rcs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "nope"}); err == nil {
		t.Error("prompts/get of an unknown prompt succeeded")
	}
}

// TestPromptSchemaFilledIn: the target schema replaces the default one in the prompt text,
// but not inside other names (agent_mv_runtime, AGENT_MV_RUNTIME_URL).
func TestPromptSchemaFilledIn(t *testing.T) {
	p, err := tools.SkillPrompt("q", "querying-views", "analytics", nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := tools.NewRegistry()
	if err := reg.AddPrompts(p); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddPrompts(p); err == nil {
		t.Error("a duplicate prompt name was accepted")
	}
	text := promptText(t, session(t, reg), "q", nil)
	if !strings.Contains(text, "FROM analytics.customer_rollup") || !strings.Contains(text, "(default `analytics`)") || strings.Contains(text, "agent_mv.") {
		t.Errorf("schema not filled in:\n%s", text)
	}
	setup, err := tools.SkillPrompt("s", "setup-database", "analytics", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := setup.Handler(context.Background(), &mcp.GetPromptRequest{Params: &mcp.GetPromptParams{Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Messages[0].Content.(*mcp.TextContent).Text; !strings.Contains(s, "AGENT_MV_RUNTIME_URL=postgresql://agent_mv_runtime:") {
		t.Errorf("the role and variable names must stay as they are:\n%s", s)
	}
	if _, err := tools.SkillPrompt("x", "querying-views", "Bad-Schema", nil); err == nil {
		t.Error("an invalid schema was accepted")
	}
}

// TestViewResources: every managed view is a resource (list, read, template); the list
// follows the registry when views are added and dropped, with a list_changed notification.
func TestViewResources(t *testing.T) {
	ctx := context.Background()
	env := mcpclient.Setup(t)
	reg, err := tools.RuntimeTools(tools.RuntimeConfig{Pool: env.RuntimePool(t), Schema: env.Names.Schema})
	if err != nil {
		t.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	reg.Mount(server)
	changed := make(chan struct{}, 16)
	cs := mcpclient.Connect(t, server, &mcp.ClientOptions{
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { changed <- struct{}{} },
	})

	list := func() []string {
		t.Helper()
		lr, err := cs.ListResources(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var uris []string
		for _, r := range lr.Resources {
			uris = append(uris, r.URI)
			if r.MIMEType != "application/json" {
				t.Errorf("%s: MIME type %q", r.URI, r.MIMEType)
			}
		}
		return uris
	}
	uri := func(v string) string { return tools.ViewResourceURI("agent_mv", v) }
	want := []string{uri("customer_rollup"), uri("daily_revenue"), uri("fragile"), uri("top_customers")}
	if got := list(); !slices.Equal(got, want) {
		t.Fatalf("resources = %v, want %v", got, want)
	}
	lt, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil || len(lt.ResourceTemplates) != 1 || lt.ResourceTemplates[0].URITemplate != "agentmv://agent_mv/views/{name}" {
		t.Fatalf("templates: %+v, %v", lt, err)
	}

	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri("customer_rollup")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Contents) != 1 || rr.Contents[0].MIMEType != "application/json" {
		t.Fatalf("contents: %+v", rr.Contents)
	}
	var d tools.DescribeViewOutput
	if err := json.Unmarshal([]byte(rr.Contents[0].Text), &d); err != nil {
		t.Fatal(err)
	}
	if d.Description != "The customer_rollup view." || len(d.Columns) != 4 || d.Columns[3].Description != "Sum of the order amounts, in euros" ||
		len(d.Indexes) != 1 || !slices.Equal(d.Sources, []string{"public.customers", "public.orders"}) || d.Freshness.Name != "customer_rollup" {
		t.Errorf("resource content: %s", rr.Contents[0].Text)
	}
	for _, leak := range []string{"LEFT JOIN", "coalesce", "GROUP BY"} {
		if strings.Contains(rr.Contents[0].Text, leak) {
			t.Errorf("the resource leaks the view SQL (%q)", leak)
		}
	}
	for _, bad := range []string{uri("secrets"), uri("views"), uri("customer_rollup/x"), "agentmv://other/views/customer_rollup"} {
		if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: bad}); err == nil {
			t.Errorf("read %s succeeded", bad)
		}
	}

	// What apply does to the registry: a new view, a dropped one.
	tx, err := env.Admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, err := range []error{
		boundary.CreateView(ctx, tx, env.Names, "region_totals", "SELECT region, count(*) AS customers FROM public.customers GROUP BY region", nil),
		boundary.UpsertView(ctx, tx, env.Names, boundary.ViewRecord{Name: "region_totals", Description: "Customers per region.", SQLHash: "h"}),
		boundary.DropView(ctx, tx, env.Names, "fragile"),
		boundary.DeleteView(ctx, tx, env.Names, "fragile"),
		tx.Commit(ctx),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.SyncResources(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(time.Minute):
		t.Fatal("no notifications/resources/list_changed after views were added and dropped")
	}
	want = []string{uri("customer_rollup"), uri("daily_revenue"), uri("region_totals"), uri("top_customers")}
	if got := list(); !slices.Equal(got, want) {
		t.Errorf("after the change, resources = %v, want %v", got, want)
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri("fragile")}); err == nil {
		t.Error("the dropped view is still readable as a resource")
	}
}
