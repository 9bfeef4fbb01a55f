package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/refresh"
)

// RuntimeConfig is what the runtime tools need: a pool on the runtime role and the schema.
// Hosts get it filled by agentmv.OpenRuntime or Project.RuntimeTools.
type RuntimeConfig struct {
	// Pool connects as the runtime role (never the admin): one pool per process.
	Pool *pgxpool.Pool
	// Schema is the target schema <S> (default agent_mv).
	Schema string
	// Limits bound query_view: MaxRows is the largest limit an agent may ask for (default
	// 1000), MaxBytes the result budget (1 MiB), StatementTimeout the server time (5 s).
	Limits Limits
	// Replicas are pools on read-only hot standbys of Pool's server, as the runtime role.
	// list_views, describe_view, query_view and get_lineage read from them (round-robin,
	// skipping any that is down) and fall back to Pool; refresh_view always uses Pool.
	Replicas []*pgxpool.Pool
	// VerifyReplica, when set, runs once on each replica before its first read
	// (agentmv.OpenRuntime passes CheckRuntimeRole); a replica that fails it is never used.
	VerifyReplica func(context.Context, *pgxpool.Pool) error
	// VerifyPrimary, when set, runs on Pool before the first call of any tool, and before
	// each later call until it succeeds once; while it fails, calls fail with its error.
	// agentmv.OpenRuntime passes CheckRuntimeRole when Postgres was unreachable at start-up,
	// so the server starts and reports "unavailable" per call instead of exiting.
	VerifyPrimary func(context.Context, *pgxpool.Pool) error
	// StatusCacheTTL is how long query_view reuses the registry and freshness it read (the
	// allowlist and the freshness it reports): a burst of queries costs one status read, not
	// one each. Default 1 s; negative disables. refresh_view through these tools clears it.
	StatusCacheTTL time.Duration
	// Tools are the tools declared in materialize.yaml (`tools:`), served next to the five
	// built-ins with the same guard, limits and freshness (see [ToolSpec]).
	Tools []ToolSpec
	// Builtins, when not nil, are the built-in tools to serve ([RuntimeToolNames]; an agent's
	// selection in materialize.yaml); nil serves all five.
	Builtins []string
}

// Runtime tool names (the seed's).
const (
	ToolListViews    = "list_views"
	ToolDescribeView = "describe_view"
	ToolQueryView    = "query_view"
	ToolRefreshView  = "refresh_view"
	ToolGetLineage   = "get_lineage"
)

// RuntimeTools returns the five runtime tools (toolset [ToolsetRuntime]) on cfg, with the
// query-views prompt and the view resources (see [Registry.SyncResources]). They run as
// whatever role cfg.Pool logs in as; give it the runtime role only.
func RuntimeTools(cfg RuntimeConfig) (*Registry, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("tools: runtime tools need a pool on the runtime role (RuntimeConfig.Pool)")
	}
	if cfg.Schema == "" {
		cfg.Schema = boundary.DefaultSchema
	}
	if err := boundary.ValidateSchemaName(cfg.Schema); err != nil {
		return nil, fmt.Errorf("tools: runtime tools: %w", err)
	}
	cfg.Limits = cfg.Limits.withDefaults()
	rt := &runtimeTools{cfg: cfg, refresher: &refresh.Client{DB: cfg.Pool, Schema: cfg.Schema},
		names: boundary.Names{Schema: cfg.Schema}, guards: newGuardCache(),
		execOpts: execOptions{prepare: canPrepare(cfg.Pool), encode: true}}
	rt.execOpts.mark = newStatusMark(boundary.StatusMarkSQL(rt.names))
	rt.declared = &declaredSet{schema: cfg.Schema}
	rs := newReplicaSet(rt)
	gate := &primaryGate{pool: cfg.Pool, verify: cfg.VerifyPrimary}
	reg := NewRegistry()
	ro := []Option{ReadOnly(), OpenWorld(false), InToolset(ToolsetRuntime)}
	err := reg.Add(
		New(ToolListViews, "List the managed views you can query: description, columns, estimated rows, last refresh, staleness.",
			gated(gate, routed(rs, (*runtimeTools).listViews)), ro...),
		New(ToolDescribeView, "Describe one managed view: columns and types, indexes, description, freshness and upstream sources (never its SQL).",
			gated(gate, routed(rs, (*runtimeTools).describeView)), ro...),
		New(ToolQueryView, "Run one read-only SELECT over the managed views (JOIN, UNION, CTEs, aggregates; no other relations). Returns columns, rows, truncated and the freshness of the views read.",
			gated(gate, routed(rs, (*runtimeTools).queryView)), append(ro,
				Param("limit", Description(fmt.Sprintf("Most rows to return (at most %d)", cfg.Limits.MaxRows)), Default(cfg.Limits.MaxRows)))...),
		New(ToolRefreshView, "Refresh one managed view now. Status: success, busy (another refresh is running) or fresh (refreshed recently); a failed refresh is an error and the view keeps its data.",
			gated(gate, rt.refreshView), OpenWorld(false), Destructive(false), Idempotent(), InToolset(ToolsetRuntime)),
		New(ToolGetLineage, "Where a managed view's data comes from and what depends on it: source tables, upstream and downstream views, column lineage.",
			gated(gate, routed(rs, (*runtimeTools).getLineage)), ro...),
	)
	if err != nil {
		return nil, err
	}
	if cfg.Builtins != nil {
		for _, name := range cfg.Builtins {
			if !slices.Contains(runtimeToolNames, name) {
				return nil, fmt.Errorf("tools: runtime tools: %q is not a built-in runtime tool (have %v)", name, runtimeToolNames)
			}
		}
		for _, name := range runtimeToolNames {
			if !slices.Contains(cfg.Builtins, name) {
				delete(reg.tools, name)
			}
		}
	}
	declared, compiled, err := declaredTools(rs, cfg.Schema, cfg.Tools)
	if err != nil {
		return nil, err
	}
	if err := reg.Add(declared...); err != nil {
		return nil, err
	}
	rt.declared.rs = rs
	rt.declared.set(cfg.Tools, compiled)
	reg.declared = rt.declared
	// The guidance names only what this server has: the querying prompt is about query_view.
	has := func(tool string) bool { _, ok := reg.tools[tool]; return ok }
	if has(ToolQueryView) {
		prompts, err := runtimePrompts(cfg.Schema)
		if err == nil {
			err = reg.AddPrompts(prompts...)
		}
		if err != nil {
			return nil, err
		}
	}
	reg.resources = &resources{rt: rt}
	reg.SetInstructions(runtimeInstructions(cfg.Schema, has, len(declared) > 0))
	return reg, nil
}

type runtimeTools struct {
	cfg       RuntimeConfig
	refresher *refresh.Client
	names     boundary.Names
	guards    *guardCache  // shared with the replicas' runtimeTools (verdicts are keyed by the allowed set)
	execOpts  execOptions  // how query_view runs on cfg.Pool
	declared  *declaredSet // the declared tools (shared with the replicas' runtimeTools)

	cacheMu sync.Mutex
	cached  *statusSnapshot
}

// ---- list_views ----

type noInput struct{}

// ViewSummary is one entry of list_views.
type ViewSummary struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Columns     int    `json:"columns"`
	// ColumnMeanings are the described columns (materialize.yaml's columns:, kept as column
	// comments): name -> one-line meaning.
	ColumnMeanings  map[string]string `json:"column_meanings,omitempty"`
	RowsEstimate    *int64            `json:"rows_estimate"`
	DependsOn       []string          `json:"depends_on"`
	LastStatus      string            `json:"last_status,omitempty"`
	LastRefreshedAt *time.Time        `json:"last_refreshed_at"`
	LastMode        string            `json:"mode,omitempty"`
	DataAsOf        *time.Time        `json:"data_as_of,omitempty"`
	Stale           bool              `json:"stale"`
	StaleReason     string            `json:"stale_reason,omitempty"`
	Running         bool              `json:"running,omitempty"`
	Populated       bool              `json:"populated"`
	// Tools are the declared tools that read the view (prefer them to query_view).
	Tools []string `json:"tools,omitempty"`
	// RefreshStrategy is "full" (recomputed by each refresh) or "incremental" (kept exact from
	// captured changes).
	RefreshStrategy string `json:"refresh_strategy"`
}

// ListViewsOutput is list_views' result.
type ListViewsOutput struct {
	Views []ViewSummary `json:"views"`
	ReadInfo
}

func (rt *runtimeTools) listViews(ctx context.Context, _ noInput) (ListViewsOutput, error) {
	st, err := rt.refresher.Status(ctx)
	if err != nil {
		return ListViewsOutput{}, registryError(rt.cfg.Schema, err)
	}
	comments, err := boundary.ReadComments(ctx, rt.cfg.Pool, rt.names, "")
	if err != nil {
		return ListViewsOutput{}, err
	}
	out := ListViewsOutput{Views: make([]ViewSummary, 0, len(st))}
	for _, s := range st {
		c := comments[s.Name]
		v := ViewSummary{Name: s.Name, Description: s.Description, Columns: len(c.Columns), ColumnMeanings: c.Described(), RefreshStrategy: s.Strategy,
			RowsEstimate: s.RowsEstimate, DependsOn: nonNil(s.Upstream), LastStatus: s.LastStatus,
			LastRefreshedAt: s.LastFinishedAt, LastMode: s.LastMode, DataAsOf: s.DataAsOf,
			Stale: s.Stale, StaleReason: s.StaleReason, Running: s.Running, Populated: s.Populated,
			Tools: rt.declared.readers(s.Name)}
		out.Views = append(out.Views, v)
	}
	return out, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// registryError explains a failure to read the registry (agentmv not applied, wrong schema,
// wrong role) and keeps Postgres errors mappable.
func registryError(schema string, err error) error {
	te := AsToolError(err)
	if te.ErrorType == ErrUnknownView || te.ErrorType == ErrNotAllowed {
		te.Hint = fmt.Sprintf("cannot read the registry %s.views: check that `agent-mv apply` has run, that the target schema is %s, and that the server connects as the runtime role", schema, schema)
	}
	return te
}

// ---- describe_view ----

// NameInput is the input of the tools that take one view or table name.
type NameInput struct {
	Name string `json:"name" jsonschema:"description=Name of the managed view (bare or schema-qualified as in query_view),minLength=1,maxLength=131"`
}

// ViewColumn is one column of a described view.
type ViewColumn = boundary.ViewColumn

// ViewIndex is one index of a described view.
type ViewIndex struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Unique  bool     `json:"unique"`
}

// DescribeViewOutput is describe_view's result. It never carries the view's SQL.
type DescribeViewOutput struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Columns     []ViewColumn `json:"columns"`
	Indexes     []ViewIndex  `json:"indexes"`
	// ConcurrentRefresh says whether refresh_view would refresh the view CONCURRENTLY now
	// (without blocking readers), and RefreshModeReason why (the function's mode_reason): the
	// same definition the function uses (boundary.RefreshModes).
	ConcurrentRefresh bool `json:"concurrent_refresh"`
	// RefreshStrategy is "full" or "incremental" (see ViewSummary).
	RefreshStrategy   string             `json:"refresh_strategy"`
	RefreshModeReason string             `json:"refresh_mode_reason"`
	Sources           []string           `json:"sources"`
	DependsOn         []string           `json:"depends_on"`
	Freshness         refresh.ViewStatus `json:"freshness"`
	// Tools are the declared tools that read the view (prefer them to query_view).
	Tools []string `json:"tools,omitempty"`
	ReadInfo
}

// describeIndexesSQL lists the view's indexes (whether one allows a concurrent refresh is
// boundary.RefreshModes' answer, not this query's).
const describeIndexesSQL = `
SELECT ic.relname, i.indisunique,
       coalesce((SELECT array_agg(a.attname ORDER BY k.ord)
                   FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum), '{}')
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND strpos(ic.relname, '$') = 0
 ORDER BY ic.relname`

// viewName is the bare name of a view named as query_view accepts it: bare, or qualified with
// the target schema (agent_mv.orders, "agent_mv"."orders"). A name qualified with another
// schema, or not a plain qualified name, is returned as given (and is then unknown).
func (rt *runtimeTools) viewName(name string) string {
	name = strings.TrimSpace(name)
	schema, view, ok := splitQualified(name)
	if !ok || schema != rt.cfg.Schema {
		return name
	}
	return view
}

// splitQualified splits schema.name, each part an SQL identifier: a quoted part is taken as
// written, an unquoted one folded to lower case as Postgres does. ok is false unless name is
// exactly two such parts.
func splitQualified(name string) (schema, rel string, ok bool) {
	var parts []string
	for rest := name; ; {
		var part string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) {
				if rest[end] == '"' {
					if end+1 < len(rest) && rest[end+1] == '"' {
						end += 2
						continue
					}
					break
				}
				end++
			}
			if end >= len(rest) {
				return "", "", false
			}
			part, rest = strings.ReplaceAll(rest[1:end], `""`, `"`), rest[end+1:]
		} else {
			i := strings.IndexByte(rest, '.')
			if i < 0 {
				i = len(rest)
			}
			part, rest = strings.ToLower(rest[:i]), rest[i:]
		}
		if part == "" {
			return "", "", false
		}
		parts = append(parts, part)
		if rest == "" {
			break
		}
		if rest[0] != '.' {
			return "", "", false
		}
		rest = rest[1:]
	}
	if len(parts) != 2 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

func (rt *runtimeTools) describeView(ctx context.Context, in NameInput) (DescribeViewOutput, error) {
	in.Name = rt.viewName(in.Name)
	st, err := rt.viewStatus(ctx, in.Name)
	if err != nil {
		return DescribeViewOutput{}, err
	}
	out := DescribeViewOutput{Name: st.Name, Description: st.Description, Freshness: st,
		Columns: []ViewColumn{}, Indexes: []ViewIndex{}, Tools: rt.declared.readers(in.Name)}
	cols, err := boundary.ViewColumns(ctx, rt.cfg.Pool, rt.names, in.Name)
	if err != nil {
		return out, err
	}
	out.Columns = append(out.Columns, cols[in.Name]...)
	out.RefreshStrategy = st.Strategy
	rows, err := rt.cfg.Pool.Query(ctx, describeIndexesSQL, rt.cfg.Schema, in.Name)
	if err != nil {
		return out, err
	}
	var ix ViewIndex
	if _, err := pgx.ForEachRow(rows, []any{&ix.Name, &ix.Unique, &ix.Columns}, func() error {
		out.Indexes = append(out.Indexes, ix)
		return nil
	}); err != nil {
		return out, err
	}
	modes, err := boundary.RefreshModes(ctx, rt.cfg.Pool, rt.names, in.Name)
	if err != nil {
		return out, err
	}
	if m, ok := modes[in.Name]; ok {
		out.ConcurrentRefresh, out.RefreshModeReason = m.Concurrent, m.Reason
	}
	if st.Strategy == boundary.StrategyIncremental {
		m := boundary.IncrementalRefreshMode()
		out.ConcurrentRefresh, out.RefreshModeReason = true, m.Reason
	}
	lin, err := rt.lineage(ctx, in.Name)
	if err != nil {
		return out, err
	}
	out.Sources, out.DependsOn = lin.Sources, lin.DependsOn
	return out, nil
}

// viewStatus returns the status of one managed view, or an unknown_view error.
func (rt *runtimeTools) viewStatus(ctx context.Context, name string) (refresh.ViewStatus, error) {
	st, err := rt.refresher.Status(ctx)
	if err != nil {
		return refresh.ViewStatus{}, registryError(rt.cfg.Schema, err)
	}
	for _, s := range st {
		if s.Name == name {
			return s, nil
		}
	}
	return refresh.ViewStatus{}, unknownView(name)
}

func unknownView(name string) *ToolError {
	return &ToolError{ErrorType: ErrUnknownView,
		Message: fmt.Sprintf("unknown view: %s", name),
		Hint:    "call list_views to see the managed views"}
}

// ---- query_view ----

// QueryInput is the input of query_view and sample_query.
type QueryInput struct {
	SQL   string `json:"sql" jsonschema:"description=One SELECT statement,minLength=1"`
	Limit int    `json:"limit,omitempty" jsonschema:"minimum=1"`
}

// ViewFreshness is how fresh one view read by query_view is.
type ViewFreshness struct {
	View            string     `json:"view"`
	LastRefreshedAt *time.Time `json:"last_refreshed_at"`
	DataAsOf        *time.Time `json:"data_as_of"`
	Stale           bool       `json:"stale"`
	Running         bool       `json:"running,omitempty"`
}

// QueryOutput is query_view's result.
type QueryOutput struct {
	Result
	Freshness []ViewFreshness `json:"freshness"`
	ReadInfo
}

// MarshalJSON writes the output with the rows as encoded from the wire (see [Result]).
func (o QueryOutput) MarshalJSON() ([]byte, error) { return o.encodeJSON() }

func (o QueryOutput) encodeJSON() ([]byte, error) {
	v := struct {
		resultFields
		Freshness []ViewFreshness `json:"freshness"`
		ReadInfo
	}{resultFields(o.Result), o.Freshness, o.ReadInfo}
	if o.rowsJSON == nil {
		return json.Marshal(v)
	}
	v.Rows = nil
	return spliceRows(v, o.rowsJSON)
}

func (rt *runtimeTools) queryView(ctx context.Context, in QueryInput) (QueryOutput, error) {
	return rt.runQuery(ctx, in.SQL, in.Limit, rt.execOpts)
}

// runQuery guards sql against the managed views (the cached verdict when the text was seen
// under the same views), runs it with opts (at most maxRows rows when 0 < maxRows < the
// limit) and reports the freshness of the views read: query_view and the declared tools.
func (rt *runtimeTools) runQuery(ctx context.Context, sql string, maxRows int, opts execOptions) (QueryOutput, error) {
	snap, err := rt.status(ctx)
	if err != nil {
		return QueryOutput{}, registryError(rt.cfg.Schema, err)
	}
	v := rt.check(sql, snap)
	if errors.Is(v.err, errNotManaged) && snap.cached {
		// The cached registry may predate a view applied since: read it again before saying no.
		rt.forgetStatus()
		if snap, err = rt.status(ctx); err != nil {
			return QueryOutput{}, registryError(rt.cfg.Schema, err)
		}
		v = rt.check(sql, snap)
	}
	if v.err != nil {
		var te *ToolError
		if errors.As(v.err, &te) { // a copy: the cached verdict is shared, middleware may edit errors
			c := *te
			return QueryOutput{}, &c
		}
		return QueryOutput{}, v.err
	}
	limits, note := rt.cfg.Limits.forLimit(maxRows)
	res, err := execQuery(ctx, rt.cfg.Pool, rt.cfg.Schema, v.deparsed, limits, opts)
	if err != nil {
		return QueryOutput{}, err
	}
	res.LimitNote = note
	if res.mark != snap.mark {
		// A refresh finished, or the registry changed, after the cached status was read (the
		// query's own round trip says so): report the freshness the query saw.
		rt.forgetStatus()
		if fresh, err := rt.status(ctx); err == nil {
			snap = fresh
		}
	}
	out := QueryOutput{Result: res, Freshness: make([]ViewFreshness, 0, len(v.read))}
	for i, name := range v.read {
		s, ok := snap.byName[name]
		if !ok || slices.Contains(v.read[:i], name) {
			continue
		}
		out.Freshness = append(out.Freshness, ViewFreshness{View: name, LastRefreshedAt: s.LastSuccessAt,
			DataAsOf: s.DataAsOf, Stale: s.Stale, Running: s.Running})
	}
	return out, nil
}

// check runs the guard on sql against the snapshot's managed views, or reuses its verdict on
// the same text under the same set of views.
func (rt *runtimeTools) check(sql string, snap *statusSnapshot) *guardVerdict {
	k := guardCacheKey{allowed: snap.allowed, sql: sql}
	if v, ok := rt.guards.get(k); ok {
		return v
	}
	deparsed, read, err := guardRuntime(sql, rt.cfg.Schema, snap.allows)
	v := &guardVerdict{deparsed: deparsed, read: read, err: err}
	rt.guards.put(k, v)
	return v
}

// ---- refresh_view ----

func (rt *runtimeTools) refreshView(ctx context.Context, in NameInput) (refresh.Result, error) {
	in.Name = rt.viewName(in.Name)
	if err := boundary.ValidateIdentifier("view name", in.Name); err != nil {
		return refresh.Result{}, unknownView(in.Name)
	}
	res, err := rt.refresher.Refresh(ctx, in.Name)
	rt.forgetStatus()
	if err == nil {
		return res, nil
	}
	var fe *refresh.FailedError
	switch {
	case errors.As(err, &fe):
		msg := fmt.Sprintf("refresh of %s failed: %s", in.Name, fe.Result.Error)
		if fe.Result.SQLState != "" {
			msg += " (SQLSTATE " + fe.Result.SQLState + ")"
		}
		if fe.Result.SQLState == refresh.SQLStateLockTimeout {
			return res, &ToolError{ErrorType: ErrRefreshFailed, Err: err, Message: msg,
				Hint: "another session holds a lock the refresh needs (named above); the view still holds its previous data. Answer from it if it is fresh enough, or try again in a minute; if this keeps happening, tell an operator which session blocks it"}
		}
		return res, &ToolError{ErrorType: ErrRefreshFailed, Err: err, Message: msg,
			Hint: fmt.Sprintf("the view still holds its previous data; the failure is recorded: query_view `SELECT started_at, status, error FROM refresh_history WHERE view_name = '%s' ORDER BY started_at DESC LIMIT 5`, and ask an operator to fix the view or its sources", in.Name)}
	case errors.Is(err, refresh.ErrUnknownView):
		return res, &ToolError{ErrorType: ErrUnknownView, Err: err,
			Message: fmt.Sprintf("unknown materialized view: %s", in.Name),
			Hint:    "call list_views to see the managed views"}
	}
	return res, err
}

// ---- get_lineage ----

// ColumnLineage is one view column and the source columns it comes from.
type ColumnLineage struct {
	Column  string   `json:"column"`
	Sources []string `json:"sources"` // schema.relation.column
}

// LineageOutput is get_lineage's result (the seed's keys plus column lineage).
type LineageOutput struct {
	Name         string          `json:"name"`
	Sources      []string        `json:"sources"`        // base tables, schema.table
	DependsOn    []string        `json:"depends_on"`     // upstream managed views
	DependedOnBy []string        `json:"depended_on_by"` // downstream managed views
	Columns      []ColumnLineage `json:"columns"`
	ReadInfo
}

func (rt *runtimeTools) getLineage(ctx context.Context, in NameInput) (LineageOutput, error) {
	in.Name = rt.viewName(in.Name)
	if _, err := rt.viewStatus(ctx, in.Name); err != nil {
		return LineageOutput{}, err
	}
	return rt.lineage(ctx, in.Name)
}

func (rt *runtimeTools) lineage(ctx context.Context, name string) (LineageOutput, error) {
	out := LineageOutput{Name: name, Sources: []string{}, DependsOn: []string{}, DependedOnBy: []string{}, Columns: []ColumnLineage{}}
	l, err := boundary.LineageOf(ctx, rt.cfg.Pool, rt.names, name)
	if err != nil {
		return out, err
	}
	out.Sources, out.DependsOn, out.DependedOnBy = l.Tables, l.Upstream, l.Downstream
	for _, c := range l.Columns {
		out.Columns = append(out.Columns, ColumnLineage{Column: c.Column, Sources: c.Sources})
	}
	return out, nil
}
