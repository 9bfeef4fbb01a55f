package tools

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// View resources: each managed view is an MCP resource, agentmv://<schema>/views/<name>, and
// the template agentmv://<schema>/views/{name} reads any of them by name. The content is
// describe_view's JSON (description, columns with types and meanings, indexes, freshness,
// lineage), never the view's SQL. resources/list follows the registry: the list is brought up
// to date before every resources/list, and by [Registry.SyncResources] /
// [Registry.WatchResources]; a change sends notifications/resources/list_changed to every
// session of every server the registry is mounted on.

// ViewResourceURI returns the resource URI of a managed view.
func ViewResourceURI(schema, view string) string {
	return "agentmv://" + schema + "/views/" + view
}

// resources is a registry's view resources, shared by the registries Select and Toolset
// derive from it and mounted on any number of servers.
type resources struct {
	rt *runtimeTools

	mu      sync.Mutex
	servers []*mcp.Server
	listed  []string // view names registered as resources on every server, sorted
}

func (rs *resources) template() string { return ViewResourceURI(rs.rt.cfg.Schema, "{name}") }

// mount adds the template and the listed views to server, and brings the list up to date
// before each resources/list.
func (rs *resources) mount(server *mcp.Server) {
	server.AddResourceTemplate(&mcp.ResourceTemplate{
		Name: "view", URITemplate: rs.template(), MIMEType: "application/json",
		Description: "One managed view by name: description, columns with types and meanings, indexes, freshness and lineage (never its SQL).",
	}, rs.read)
	server.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "resources/list" {
				_ = rs.sync(ctx) // on failure the last list stays; reads report the error
			}
			return next(ctx, method, req)
		}
	})
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.servers = append(rs.servers, server)
	for _, name := range rs.listed {
		server.AddResource(rs.resource(name, ""), rs.read)
	}
}

func (rs *resources) resource(name, description string) *mcp.Resource {
	return &mcp.Resource{URI: ViewResourceURI(rs.rt.cfg.Schema, name), Name: name,
		Description: description, MIMEType: "application/json"}
}

// sync makes every server's resources the managed views, as the registry says now.
func (rs *resources) sync(ctx context.Context) error {
	st, err := rs.rt.refresher.Status(ctx)
	if err != nil {
		return registryError(rs.rt.cfg.Schema, err)
	}
	desc := map[string]string{}
	names := make([]string, 0, len(st))
	for _, s := range st {
		names = append(names, s.Name)
		desc[s.Name] = s.Description
	}
	slices.Sort(names)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if slices.Equal(names, rs.listed) {
		return nil
	}
	var gone []string
	for _, n := range rs.listed {
		if _, ok := slices.BinarySearch(names, n); !ok {
			gone = append(gone, ViewResourceURI(rs.rt.cfg.Schema, n))
		}
	}
	for _, server := range rs.servers {
		if len(gone) > 0 {
			server.RemoveResources(gone...)
		}
		for _, n := range names {
			if _, ok := slices.BinarySearch(rs.listed, n); !ok {
				server.AddResource(rs.resource(n, desc[n]), rs.read)
			}
		}
	}
	rs.listed = names
	return nil
}

// read answers resources/read for a view URI with describe_view's JSON.
func (rs *resources) read(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	name, ok := strings.CutPrefix(uri, ViewResourceURI(rs.rt.cfg.Schema, ""))
	if !ok || name == "" || strings.ContainsAny(name, "/?#") {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	out, err := rs.rt.describeView(ctx, NameInput{Name: name})
	if err != nil {
		if te := AsToolError(err); te.ErrorType == ErrUnknownView {
			return nil, mcp.ResourceNotFoundError(uri)
		}
		te := AsToolError(err)
		return nil, errors.New(te.Message + "; " + te.Hint)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(b)}}}, nil
}

// SyncResources brings the view resources of every server the registry is mounted on up to
// date with the registry of managed views (after an apply added or dropped views), sending
// notifications/resources/list_changed when the list changed. A registry without view
// resources (not the runtime tools) does nothing.
func (r *Registry) SyncResources(ctx context.Context) error {
	r.mu.RLock()
	rs := r.resources
	r.mu.RUnlock()
	if rs == nil {
		return nil
	}
	return rs.sync(ctx)
}

// WatchResources calls SyncResources every interval (default 5 s) until ctx is done, so
// clients hear of views an apply added or dropped without asking. Errors (the database is
// briefly unreachable) are retried at the next tick.
func (r *Registry) WatchResources(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_ = r.SyncResources(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
