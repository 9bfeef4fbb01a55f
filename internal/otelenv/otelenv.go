// Package otelenv builds an OpenTelemetry tracer provider from the standard OTEL_* environment
// variables for agentmv's commands, and none when they do not ask for traces.
package otelenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TracerProvider returns a tracer provider configured by the OTEL_* environment variables, or
// nil (tracing off, no cost) when they ask for none:
//
//   - OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: off;
//   - OTEL_TRACES_EXPORTER=otlp, or unset with OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set: OTLP over HTTP/protobuf (endpoint, headers,
//     timeout, compression, TLS from the OTEL_EXPORTER_OTLP_* variables; the grpc protocol is
//     refused with a message);
//   - OTEL_TRACES_EXPORTER=console: spans as JSON on stderr (never stdout: a stdio MCP
//     server's protocol runs there);
//   - nothing set: off.
//
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the resource (default service.name is
// service), OTEL_TRACES_SAMPLER(_ARG) choose the sampler and OTEL_BSP_* tune the batch
// processor. Shut the provider down before exiting to flush the last spans.
func TracerProvider(ctx context.Context, service, version string, stderr io.Writer) (*sdktrace.TracerProvider, error) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	var exp sdktrace.SpanExporter
	switch kind := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))); kind {
	case "none":
		return nil, nil
	case "":
		if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return nil, nil
		}
		fallthrough
	case "otlp":
		proto := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if proto == "" {
			proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		if proto != "" && proto != "http/protobuf" {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: agentmv exports traces over OTLP http/protobuf only; unset it (or set http/protobuf) and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port (usually 4318)", proto)
		}
		e, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter from OTEL_EXPORTER_OTLP_*: %w", err)
		}
		exp = e
	case "console":
		e, err := stdouttrace.New(stdouttrace.WithWriter(stderr))
		if err != nil {
			return nil, err
		}
		exp = e
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: agentmv supports otlp, console and none", kind)
	}
	res, err := resource.Merge(
		resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.version", version)),
		resource.Environment(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
