package connerr_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/internal/connerr"
	"github.com/agentmv/agentmv/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestTextLeadsWithTheRealCause: real failed connects (a wrong password against a server
// without TLS, with sslmode=prefer so pgx first tries TLS; nothing listening) are described
// in one line with the real cause, without the "server refused TLS" noise, and an error
// wrapping them keeps its context.
func TestTextLeadsWithTheRealCause(t *testing.T) {
	db := pgtest.NewDB(t)
	u, err := url.Parse(db.URL(db.Prefix+"_nobody", "Wrong-pw_1"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("sslmode", "prefer")
	u.RawQuery = q.Encode()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, tc := range []struct{ name, dsn, want string }{
		{"wrong password", u.String(), "password authentication failed"},
		{"nothing listening", "postgres://u:pw@" + closed + "/db?sslmode=prefer&connect_timeout=5", "connect: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := pgx.Connect(ctx, tc.dsn)
			if err == nil {
				t.Fatal("connect succeeded")
			}
			t.Logf("pgx says: %q", err.Error())
			wrapped := fmt.Errorf("plan: read the recorded state: %w", err)
			got := connerr.Text(wrapped)
			if !strings.HasPrefix(got, "plan: read the recorded state: cannot connect as user ") || !strings.Contains(got, tc.want) {
				t.Errorf("Text = %q, want the context, then the cause %q", got, tc.want)
			}
			if strings.Contains(got, "TLS") || strings.Contains(got, "\n") || strings.Count(got, tc.want) != 1 {
				t.Errorf("Text = %q: TLS noise, several lines or the cause repeated (raw: %q)", got, err.Error())
			}
			if cause, ok := connerr.Cause(err); !ok || !strings.Contains(cause, tc.want) {
				t.Errorf("Cause = %q, %v", cause, ok)
			}
		})
	}
	if got := connerr.Text(fmt.Errorf("other")); got != "other" {
		t.Errorf("Text(other) = %q", got)
	}
}
