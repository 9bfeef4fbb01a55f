package otelenv

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTracerProvider: off without OTEL_* (nil provider: no cost), on for console and OTLP,
// off again when disabled, and clear errors for what agentmv does not export.
func TestTracerProvider(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		t.Setenv(k, "")
	}
	cases := []struct {
		env    map[string]string
		on     bool
		errHas string
	}{
		{env: nil},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}},
		{env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "console"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, errHas: "http/protobuf only"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, errHas: "supports otlp, console and none"},
	}
	for _, c := range cases {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		var stderr bytes.Buffer
		tp, err := TracerProvider(context.Background(), "test", "v0", &stderr)
		switch {
		case c.errHas != "":
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("%v: err %v, want %q", c.env, err, c.errHas)
			}
		case err != nil:
			t.Errorf("%v: %v", c.env, err)
		case (tp != nil) != c.on:
			t.Errorf("%v: provider %v, want on=%v", c.env, tp, c.on)
		}
		if tp != nil {
			_ = tp.Shutdown(context.Background())
		}
		for k := range c.env {
			t.Setenv(k, "")
		}
	}
}
