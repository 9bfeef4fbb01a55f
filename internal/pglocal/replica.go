package pglocal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// StartReplica starts a streaming hot standby of the primary: pg_basebackup -R over the
// primary's Unix socket (trust for replication there), then a server in recovery on a new
// free port. Close it before the primary.
func (c *Cluster) StartReplica(ctx context.Context) (*Cluster, error) {
	base, err := os.MkdirTemp(filepath.Dir(c.Dir), "agentmv-pg-replica-")
	if err != nil {
		return nil, fmt.Errorf("pglocal: replica dir: %w", err)
	}
	r := &Cluster{
		BinDir:    c.BinDir,
		Dir:       base,
		DataDir:   filepath.Join(base, "data"),
		SocketDir: filepath.Join(base, "sock"),
		LogFile:   filepath.Join(base, "server.log"),
		Password:  c.Password,
		settings:  map[string]string{"hot_standby": "on", "hot_standby_feedback": "on"},
		cred:      c.cred,
		uid:       c.uid,
		gid:       c.gid,
	}
	for k, v := range c.settings {
		r.settings[k] = v
	}
	fail := func(err error) (*Cluster, error) {
		_ = r.Close()
		return nil, err
	}
	if err := os.Chmod(base, 0o755); err != nil {
		return fail(err)
	}
	if err := os.Mkdir(r.SocketDir, 0o700); err != nil {
		return fail(err)
	}
	for _, p := range []string{base, r.SocketDir} {
		if err := os.Lchown(p, r.uid, r.gid); err != nil {
			return fail(err)
		}
	}
	if _, err := os.Stat(filepath.Join(c.BinDir, "pg_basebackup")); err != nil {
		return fail(fmt.Errorf("pglocal: a streaming replica needs pg_basebackup, which %s lacks (the @embedded-postgres packages ship only the server): use a full PostgreSQL install", c.BinDir))
	}
	cmd := r.command(ctx, "pg_basebackup",
		"-D", r.DataDir,
		"-h", c.SocketDir, "-p", strconv.Itoa(c.Port), "-U", Superuser,
		"-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pglocal: pg_basebackup: %w\n%s", err, out))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	r.Port = port
	if err := r.start(ctx); err != nil {
		return fail(err)
	}
	return r, nil
}

// WaitReplay waits until the replica has replayed everything the primary had inserted into
// its WAL (asynchronous commits included: the WAL writer flushes them shortly) when
// WaitReplay was called.
func (c *Cluster) WaitReplay(ctx context.Context, primary *Cluster, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := pgx.Connect(ctx, primary.SocketURL("postgres"))
	if err != nil {
		return err
	}
	defer p.Close(ctx)
	var lsn string
	if err := p.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		return err
	}
	r, err := pgx.Connect(ctx, c.SocketURL("postgres"))
	if err != nil {
		return err
	}
	defer r.Close(ctx)
	for {
		var done bool
		if err := r.QueryRow(ctx, "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", lsn).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pglocal: replica did not replay up to %s in %s: %w", lsn, timeout, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
