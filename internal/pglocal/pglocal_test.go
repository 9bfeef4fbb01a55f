package pglocal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentmv/agentmv/internal/testutil"
)

func TestStartQueryStop(t *testing.T) {
	if _, err := FindBinDir(); errors.Is(err, ErrNoBinaries) {
		testutil.SkipOrFail(t, "%v", err)
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
	t.Setenv(EnvBinDir, "")
	// With PATH empty, only the glob can find binaries; either way the error must name what to install.
	if _, err := FindBinDir(); err != nil && !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("unexpected error %v", err)
	}
	if got := ErrNoBinaries.Error(); !strings.Contains(got, "apt-get install -y postgresql") {
		t.Errorf("error does not say what to install: %s", got)
	}
}

// TestFindBinDirFromEnv: AGENTMV_PG_BINDIR wins over every other place, and a value that holds
// no server binaries is an error naming the variable (never a silent fallback to another
// version, which would make a compatibility run test the wrong server).
func TestFindBinDirFromEnv(t *testing.T) {
	bin, err := FindBinDir()
	if errors.Is(err, ErrNoBinaries) {
		testutil.SkipOrFail(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, tc := range []struct {
		name, env, want, wantErr string
	}{
		{"server binaries", bin, bin, ""},
		{"empty directory", empty, "", EnvBinDir + "=" + empty + " holds no initdb and postgres"},
		{"missing directory", empty + "/nope", "", "scripts/install-pg-versions.sh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvBinDir, tc.env)
			got, err := FindBinDir()
			if tc.wantErr != "" {
				if err == nil || errors.Is(err, ErrNoBinaries) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("FindBinDir() = %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("FindBinDir() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestBinDirNotSearchable: as root the server runs as the `postgres` OS user, which cannot
// enter a 0700 directory such as /root; Start must say so instead of a bare exec error.
func TestBinDirNotSearchable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to another OS user")
	}
	bin, err := FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(t.TempDir(), "bin") // t.TempDir's parent is 0700
	if err := os.Mkdir(private, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"initdb", "postgres"} {
		if err := os.Symlink(filepath.Join(bin, b), filepath.Join(private, b)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Start(context.Background(), Options{BinDir: private})
	if err == nil {
		c.Close()
		t.Fatal("a cluster started from binaries its OS user cannot reach")
	}
	if !strings.Contains(err.Error(), "world-searchable") {
		t.Errorf("error does not say what to do: %v", err)
	}
}
