package tools_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentmv/agentmv/test/mcpclient"
	"github.com/agentmv/agentmv/tools"
)

func TestAsToolError(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("exec query: %w", &pgconn.PgError{Code: code, Message: "msg " + code})
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"permission denied", pg("42501"), tools.ErrNotAllowed},
		{"statement timeout", pg("57014"), tools.ErrTimeout},
		{"syntax", pg("42601"), tools.ErrSyntax},
		{"undefined table", pg("42P01"), tools.ErrUnknownView},
		{"read only transaction", pg("25006"), tools.ErrReadOnly},
		{"admin shutdown", pg("57P01"), tools.ErrUnavailable},
		{"cannot connect now", pg("57P03"), tools.ErrUnavailable},
		{"connection failure class 08", pg("08006"), tools.ErrUnavailable},
		{"undefined column", pg("42703"), tools.ErrQuery},
		{"division by zero", pg("22012"), tools.ErrQuery},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), tools.ErrTimeout},
		{"canceled", context.Canceled, tools.ErrCanceled},
		{"net error", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, tools.ErrUnavailable},
		{"tool error kept", fmt.Errorf("wrapped: %w", tools.NewError(tools.ErrUnknownView, "m", "h")), tools.ErrUnknownView},
		{"other", errors.New("boom"), tools.ErrInternal},
	}
	known := map[string]bool{}
	for _, et := range tools.ErrorTypes {
		known[et.Type] = true
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			te := tools.AsToolError(tc.err)
			if te.ErrorType != tc.want {
				t.Errorf("type = %s, want %s (%+v)", te.ErrorType, tc.want, te)
			}
			if !known[te.ErrorType] {
				t.Errorf("type %q is not listed in ErrorTypes", te.ErrorType)
			}
			if te.Message == "" || te.Hint == "" {
				t.Errorf("empty message or hint: %+v", te)
			}
			if !errors.Is(te, tc.err) && !errors.Is(tc.err, te) {
				t.Errorf("cause lost: %v", te.Err)
			}
		})
	}
	if tools.AsToolError(nil) != nil || tools.ErrorTypeOf(nil) != "" {
		t.Errorf("nil error must map to nil")
	}
}

// A real connect failure (nothing listens on the port) is unavailable, with no password in it.
func TestConnectErrorIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pgx.Connect(ctx, "postgres://u:s3cret-pw@"+addr+"/db?connect_timeout=2")
	if err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
	te := tools.AsToolError(err)
	if te.ErrorType != tools.ErrUnavailable {
		t.Errorf("got %+v from %v", te, err)
	}
	if strings.Contains(string(te.JSON()), "s3cret-pw") {
		t.Errorf("password leaked: %s", te.JSON())
	}
}

func TestErrorTypesListedOnce(t *testing.T) {
	var types []string
	for _, et := range tools.ErrorTypes {
		if et.Meaning == "" {
			t.Errorf("%s has no meaning", et.Type)
		}
		types = append(types, et.Type)
	}
	sorted := slices.Clone(types)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(types) {
		t.Errorf("duplicate error types: %v", types)
	}
}

// TestWrongPasswordIsALoginError: over a real MCP session whose pool logs in with a wrong
// password (real Postgres, SCRAM over TCP), the tool error says the login was refused and to
// check the connection string; it does not send the agent to column names or to retry, and
// it carries no password.
func TestWrongPasswordIsALoginError(t *testing.T) {
	env := mcpclient.Setup(t)
	pool := env.DB.PoolFor(t, env.DB.URL(env.Names.RuntimeRole, "Wrong-pw_1"))
	reg, err := tools.RuntimeTools(tools.RuntimeConfig{Pool: pool, Schema: env.Names.Schema})
	if err != nil {
		t.Fatal(err)
	}
	cs := session(t, reg)
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"list_views", map[string]any{}},
		{"query_view", map[string]any{"sql": "SELECT 1"}},
	} {
		te := toolErr(t, call(t, cs, tc.tool, tc.args))
		if te.ErrorType != tools.ErrUnavailable || !strings.Contains(te.Message, "password authentication failed") ||
			!strings.Contains(te.Hint, "refused the login") || strings.Contains(te.Hint, "column") || strings.Contains(te.Hint, "apply") {
			t.Errorf("%s with a wrong password: %+v", tc.tool, te)
		}
		if strings.Contains(te.Message+te.Hint, "Wrong-pw_1") {
			t.Errorf("%s: the password leaked: %+v", tc.tool, te)
		}
	}
}
