package pglocal

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestStartQueryStop(t *testing.T) {
	if _, err := FindBinDir(); errors.Is(err, ErrNoBinaries) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	ctx := context.Background()
	begin := time.Now()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("initdb+start took %s (port %d, dir %s)", time.Since(begin), c.Port, c.Dir)
	t.Cleanup(func() { _ = c.Close() })

	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatalf("TCP login with the right password: %v", err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if fsync != "off" {
		t.Errorf("fsync = %q, want off", fsync)
	}

	_, err = pgx.Connect(ctx, c.URLFor(Superuser, "wrong-password", "postgres"))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("TCP login with a wrong password: got %v, want SQLSTATE 28P01", err)
	}

	// Restart keeps data and port.
	if _, err := pgx.Connect(ctx, c.URL("postgres")); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	conn.Close(ctx)

	dir := c.Dir
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cluster dir %s still exists after Close", dir)
	}
	if _, err := pgx.Connect(ctx, c.URL("postgres")); err == nil {
		t.Error("server still answers after Close")
	}
}

func TestFindBinDirMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	// With PATH empty, only the glob can find binaries; either way the error must name what to install.
	if _, err := FindBinDir(); err != nil && !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("unexpected error %v", err)
	}
	if got := ErrNoBinaries.Error(); !strings.Contains(got, "apt-get install -y postgresql") {
		t.Errorf("error does not say what to install: %s", got)
	}
}
