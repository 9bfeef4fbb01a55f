package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestServerVersion: the server is a supported major version (14–18), and a throwaway cluster
// runs the binaries pglocal.FindBinDir chose (so AGENTMV_PG_BINDIR=<dir> really tests <dir>'s
// version: the compatibility runs of .ci/run depend on it).
func TestServerVersion(t *testing.T) {
	db := NewDB(t)
	v := db.ServerVersionNum(t)
	if major := v / 10000; major < 14 || major > 18 {
		t.Errorf("server_version_num %d: major %d is outside the supported 14–18", v, major)
	}
	c := Cluster()
	if c == nil {
		t.Logf("server from %s, version %d", Source(), v)
		return
	}
	out, err := exec.Command(filepath.Join(c.BinDir, "postgres"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d.%d", v/10000, v%10000)
	if !strings.Contains(string(out), " "+want) {
		t.Errorf("server reports %s but %s/postgres --version says %q", want, c.BinDir, strings.TrimSpace(string(out)))
	}
	t.Logf("server %s from %s", want, c.BinDir)
}
