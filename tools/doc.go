// Package tools is agentmv's embeddable MCP tool registry: typed tools, toolsets, middleware and
// Mount on any go-sdk server, structured tool errors, and the guarded read-only query executor.
//
// # Tools and registries
//
// [New] builds a typed tool from a handler func(ctx, In) (Out, error). The input schema is
// reflected from In with invopop/jsonschema (root always `type: object`; struct tags and
// [Param] add descriptions, defaults and bounds); the SDK-side copy of that schema validates
// arguments and applies defaults before the handler runs. Annotations come from options
// ([ReadOnly], [Destructive], [Idempotent], [OpenWorld]) and must say what the tool really does.
//
// Results: Out is encoded to JSON once; the bytes are both the text block and
// structuredContent, and a struct Out gives the tool an outputSchema (inferred like go-sdk's,
// then opened: no "additionalProperties: false", so a newer server's extra field never fails
// an older listing; and trimmed to the fields every result has, so tools/list stays small). Clients such as the official TypeScript SDK validate every result
// against it; query_view's rows keep their compact array-of-arrays form.
//
// A [Registry] holds tools with unique names and has no global state. Hosts get agentmv's
// registries (runtime, setup), add their own tools, narrow them with [Registry.Select] or
// [Registry.Toolset], wrap calls with [Registry.Use], observe finished calls with
// [Registry.Observe], and call [Registry.Mount] on their own *mcp.Server.
//
// # Audit, metrics, traces
//
// Every call goes through the registry, which is the one place it is recorded: an [AuditLog]
// ([AuditLog.Observer]) writes one JSON line per call ([CallRecord]); [Metrics] (on a
// prometheus.Registerer of the host's, [Metrics.Observer]) counts calls, durations, rows,
// bytes and refreshes and reads pools and views' data age at scrape time;
// [Registry.SetTracerProvider] makes each call an OpenTelemetry span whose database work
// becomes child spans through [QueryTracer] on the pool. agentmv.RuntimeOptions wires metrics
// and tracing for a runtime in one step.
//
// # Errors
//
// Every failure reaches the agent as a tool result with isError=true whose content is the
// JSON envelope {"error_type", "message", "hint"} ([ToolError]) as text, without
// structuredContent (which clients would validate against the outputSchema); never a protocol error,
// never a Go panic (panics become [ErrInternal]). [AsToolError] maps Postgres errors by
// SQLSTATE; the error types are listed once, in [ErrorTypes].
//
// # Agent SQL
//
// [CheckQuery] is the single gate for SQL written by an agent: exactly one plain SELECT
// (pg_query via package lineage), every relation a managed view or allowed metadata table of
// the target schema, no function from [DeniedFunctions]. It returns the deparsed tree, and
// only that text is executed, by [ExecQuery]: bound to a portal (the protocol-level cursor)
// inside BEGIN READ ONLY with transaction-local statement_timeout,
// idle_in_transaction_session_timeout and search_path, executed in chunks up to a row and a
// byte budget, always rolled back. The database role is
// the real boundary; this layer protects the view bodies and the server's availability, and
// gives agents useful errors.
//
// # agentmv's tool sets and servers
//
// [RuntimeTools] (list_views, describe_view, query_view, refresh_view, get_lineage) run on a
// [RuntimeConfig] — a pool on the runtime role, the schema and [Limits]; [CheckRuntimeRole]
// proves at startup that the role reads only managed views and writes nothing.
// [SetupTools] (list_schemas … finalize_config) run once on the privileged DSN with a
// [SetupConfig] whose hooks write materialize.yaml (the root package wires them).
// [NewServer] mounts a registry on a go-sdk server; [NewHTTPServer] serves it over
// streamable HTTP (body limit, timeouts, loopback Host/Origin checks, bearer token required
// off loopback).
package tools
