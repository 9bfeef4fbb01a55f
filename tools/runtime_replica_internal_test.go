package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestReplicaFailure: which read errors are the replica's fault (retry elsewhere) and which
// are the request's (return as they are, the primary would fail the same way).
func TestReplicaFailure(t *testing.T) {
	_, connectErr := pgconn.Connect(context.Background(), "postgres://nobody@127.0.0.1:1/db?connect_timeout=2&sslmode=disable")
	if connectErr == nil {
		t.Fatal("connected to port 1")
	}
	pg := func(code string) error {
		return fmt.Errorf("exec query: %w", &pgconn.PgError{Code: code, Message: "x"})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"recovery conflict", pg("40001"), true},
		{"admin shutdown", pg("57P01"), true},
		{"cannot connect now (starting up)", pg("57P03"), true},
		{"connection failure", pg("08006"), true},
		{"connect error (refused)", connectErr, true},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"permission denied", pg("42501"), false},
		{"statement timeout", pg("57014"), false},
		{"division by zero", pg("22012"), false},
		{"caller deadline", context.DeadlineExceeded, false},
		{"caller canceled", context.Canceled, false},
		{"guard rejection", NewError(ErrNotAllowed, "no", "no"), false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replicaFailure(tt.err); got != tt.want {
				t.Errorf("replicaFailure(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
