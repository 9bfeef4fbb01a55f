package agentmv_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv"
	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

// TestViewResourcesFollowApply: the runtime server's view resources change when apply adds or
// drops a view, and connected clients get notifications/resources/list_changed (from the
// watcher that agent-mv mcp runtime and agent-materialize-runtime-mcp run).
func TestViewResourcesFollowApply(t *testing.T) {
	pr := demoProject(t)
	pr.apply()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := agentmv.OpenRuntime(ctx, pr.settings.RuntimeURL, agentmv.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	server := tools.NewServer(tools.RuntimeServerName, "test", rt.Tools())
	go rt.Tools().WatchResources(ctx, 100*time.Millisecond)
	changed := make(chan struct{}, 64)
	cs := mcpclient.Connect(t, server, &mcp.ClientOptions{
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { changed <- struct{}{} },
	})
	names := func() []string {
		t.Helper()
		lr, err := cs.ListResources(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range lr.Resources {
			out = append(out, r.Name)
		}
		return out
	}
	// waitFor waits for a list_changed notification after which the list is want (the watcher
	// may have sent one for an earlier state).
	waitFor := func(want []string) {
		t.Helper()
		deadline := time.After(2 * time.Minute)
		for {
			select {
			case <-changed:
				if got := names(); slices.Equal(got, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no list_changed notification leading to resources %v (now %v)", want, names())
			}
		}
	}
	if got, want := names(), []string{"customer_rollup", "daily_revenue", "top_customers_30d"}; !slices.Equal(got, want) {
		t.Fatalf("resources after the first apply = %v, want %v", got, want)
	}

	pr.write("materialize/user_count.sql", "SELECT count(*) AS users FROM public.users\n")
	if err := pr.config().AddViews(agentmv.ViewConfig{Name: "user_count", SQLFile: "materialize/user_count.sql", Description: "How many users there are.",
		Columns: []agentmv.ColumnDescription{{Column: "users", Description: "Registered users"}}}); err != nil {
		t.Fatal(err)
	}
	pr.apply()
	waitFor([]string{"customer_rollup", "daily_revenue", "top_customers_30d", "user_count"})
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: tools.ViewResourceURI("agent_mv", "user_count")})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"users","type":"bigint","nullable":true,"description":"Registered users"}`; !strings.Contains(rr.Contents[0].Text, want) {
		t.Errorf("user_count resource lacks %s: %s", want, rr.Contents[0].Text)
	}

	if err := pr.config().RemoveView("daily_revenue"); err != nil {
		t.Fatal(err)
	}
	pr.apply()
	waitFor([]string{"customer_rollup", "top_customers_30d", "user_count"})
}
