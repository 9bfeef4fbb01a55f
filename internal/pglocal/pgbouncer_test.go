package pglocal

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/internal/testutil"
)

func TestPgBouncerTransactionMode(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, Options{})
	if errors.Is(err, ErrNoBinaries) {
		testutil.SkipOrFail(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := c.StartPgBouncer(ctx, "transaction", nil)
	if errors.Is(err, ErrNoPgBouncer) {
		testutil.SkipOrFail(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	conn, err := pgx.Connect(ctx, b.URL(Superuser, c.Password, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := 0; i < 3; i++ { // the same statement twice or more: no prepared-statement clash
		var n int
		if err := conn.QueryRow(ctx, "SELECT $1::int + 1", i).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("query %d through pgbouncer: %v (n=%d)", i, err, n)
		}
	}
	if _, err := pgx.Connect(ctx, b.URL(Superuser, "wrong", "postgres")); err == nil {
		t.Fatal("pgbouncer accepted a wrong password")
	}
}
