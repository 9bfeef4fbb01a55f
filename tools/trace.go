package tools

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of agentmv's spans.
const TracerName = "github.com/agentmv/agentmv/tools"

// Span attributes of a tool call.
const (
	AttrTool      = attribute.Key("agentmv.tool")
	AttrAgent     = attribute.Key("agentmv.agent")
	AttrOutcome   = attribute.Key("agentmv.outcome") // ok or the error_type
	AttrErrorType = attribute.Key("agentmv.error_type")
	AttrView      = attribute.Key("agentmv.view")
	AttrRows      = attribute.Key("agentmv.rows")
	AttrBytes     = attribute.Key("agentmv.bytes")
	AttrTruncated = attribute.Key("agentmv.truncated")
	AttrServedBy  = attribute.Key("agentmv.served_by")
)

// SetTracerProvider traces every call of the registry (and of registries made from it by
// Select and Toolset afterwards) with tp: one span "tools/call <tool>" per call, with the
// tool, agent and outcome as attributes and a failure recorded as the span's error. The
// call's context carries the span, so database work done with it becomes child spans when the
// pool traces queries ([NewQueryTracer]). A nil tp turns tracing off (no cost per call).
func (r *Registry) SetTracerProvider(tp trace.TracerProvider) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tracer = nil
	if tp != nil {
		r.tracer = tp.Tracer(TracerName)
	}
}

func startCallSpan(ctx context.Context, tracer trace.Tracer, tool string) (context.Context, trace.Span) {
	return tracer.Start(ctx, "tools/call "+tool, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(AttrTool.String(tool), attribute.String("mcp.method.name", "tools/call"), attribute.String("gen_ai.tool.name", tool)))
}

func endCallSpan(span trace.Span, rec *CallRecord, err *ToolError) {
	outcome := rec.Outcome
	if rec.ErrType != "" {
		outcome = rec.ErrType
	}
	attrs := []attribute.KeyValue{AttrAgent.String(rec.Agent), AttrOutcome.String(outcome), AttrBytes.Int(rec.Bytes)}
	if rec.View != "" {
		attrs = append(attrs, AttrView.String(rec.View))
	}
	if rec.Rows != nil {
		attrs = append(attrs, AttrRows.Int(*rec.Rows), AttrTruncated.Bool(rec.Trunc))
	}
	if rec.ServedBy != "" {
		attrs = append(attrs, AttrServedBy.String(rec.ServedBy))
	}
	if err != nil {
		attrs = append(attrs, AttrErrorType.String(err.ErrorType))
		span.RecordError(err)
		span.SetStatus(codes.Error, err.ErrorType)
	}
	span.SetAttributes(attrs...)
	span.End()
}

// childSpan starts a client span for database work under ctx's span when that span is
// recording (a traced tool call), with the tracer provider that made it; otherwise it returns
// ctx and a nil span, at the cost of one context lookup. For work that bypasses pgx's tracer
// (query_view's pgconn pipeline).
func childSpan(ctx context.Context, name, sql string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, nil
	}
	return parent.TracerProvider().Tracer(TracerName).Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(dbSystem, attribute.String("db.query.text", sql)))
}

// endChildSpan ends a span of childSpan (nil: nothing to do), recording err.
func endChildSpan(span trace.Span, err error, attrs ...attribute.KeyValue) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.SetAttributes(attrs...)
	span.End()
}

// QueryTracer is a pgx tracer (pgx.QueryTracer and pgx.BatchTracer) that turns the queries
// and batches of a traced tool call into child spans of the call's span. It starts no span of
// its own when the context carries none (scheduler refreshes, probes), so untraced work costs
// one context lookup. Set it as the pool's ConnConfig.Tracer (agentmv.RuntimeOptions
// .TracerProvider does).
type QueryTracer struct {
	tracer trace.Tracer
}

// NewQueryTracer returns a pgx tracer creating spans with tp.
func NewQueryTracer(tp trace.TracerProvider) *QueryTracer {
	return &QueryTracer{tracer: tp.Tracer(TracerName)}
}

var dbSystem = attribute.String("db.system.name", "postgresql")

// start begins a client span for sql when ctx carries a recording span.
func (q *QueryTracer) start(ctx context.Context, name, sql string) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	ctx, _ = q.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(dbSystem, attribute.String("db.query.text", sql)))
	return ctx
}

// end ends the span start began (if any), recording err.
func end(ctx context.Context, tag string, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else if tag != "" {
		span.SetAttributes(attribute.String("db.response.status", tag))
	}
	span.End()
}

// TraceQueryStart implements pgx.QueryTracer.
func (q *QueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return q.start(ctx, "postgresql "+operation(data.SQL), data.SQL)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (q *QueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	end(ctx, data.CommandTag.String(), data.Err)
}

// TraceBatchStart implements pgx.BatchTracer.
func (q *QueryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	n := 0
	if data.Batch != nil {
		n = data.Batch.Len()
	}
	ctx = q.start(ctx, "postgresql batch", "")
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int("db.operation.batch.size", n))
	return ctx
}

// TraceBatchQuery implements pgx.BatchTracer: each statement of the batch is an event.
func (q *QueryTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("db.query.text", data.SQL)}
	if data.Err != nil {
		attrs = append(attrs, attribute.String("error", data.Err.Error()))
	}
	span.AddEvent("postgresql "+operation(data.SQL), trace.WithAttributes(attrs...))
}

// TraceBatchEnd implements pgx.BatchTracer.
func (q *QueryTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	end(ctx, "", data.Err)
}

// operation is the first keyword of sql, upper-cased (SELECT, FETCH, DECLARE, ...).
func operation(sql string) string {
	sql = strings.TrimSpace(sql)
	if i := strings.IndexAny(sql, " \t\n("); i > 0 {
		sql = sql[:i]
	}
	if len(sql) > 16 {
		sql = sql[:16]
	}
	return strings.ToUpper(sql)
}
