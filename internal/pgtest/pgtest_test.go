package pgtest

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { Main(m) }

// Two parallel tests get isolated databases: a table made in one is invisible in the other.
func TestParallelIsolation(t *testing.T) {
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := NewDB(t)
			ctx := context.Background()
			pool := db.Pool(t)
			if _, err := pool.Exec(ctx, "CREATE TABLE only_"+name+" (id int)"); err != nil {
				t.Fatal(err)
			}
			var n int
			other := map[string]string{"a": "only_b", "b": "only_a"}[name]
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = $1", other).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("database %s sees the other test's table %s", db.Name, other)
			}
		})
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	db := NewDB(t)
	ctx := context.Background()
	good := db.CreateLoginRole(t, db.Prefix+"_reader", "right-pw")
	conn, err := pgx.Connect(ctx, good)
	if err != nil {
		t.Fatalf("login with the right password: %v", err)
	}
	conn.Close(ctx)
	_, err = pgx.Connect(ctx, db.URL(db.Prefix+"_reader", "wrong-pw"))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("login with a wrong password: got %v, want SQLSTATE 28P01 (invalid_password)", err)
	}
}
