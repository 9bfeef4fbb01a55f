package pglocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoPgBouncer reports that the pgbouncer binary is not installed.
var ErrNoPgBouncer = errors.New("pgbouncer not found on PATH or in /usr/sbin; install it, e.g. `apt-get install -y pgbouncer`")

// PgBouncer is a running pgbouncer in front of a cluster.
type PgBouncer struct {
	Port int
	Dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// BouncerUser is a login pgbouncer accepts and forwards to the server.
type BouncerUser struct{ Name, Password string }

// StartPgBouncer starts pgbouncer on a free 127.0.0.1 port in front of c, for every
// database, in the given pool mode ("transaction", "session", "statement"), accepting the
// listed users with SCRAM.
func (c *Cluster) StartPgBouncer(ctx context.Context, poolMode string, users []BouncerUser) (*PgBouncer, error) {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr != nil {
			return nil, ErrNoPgBouncer
		}
		bin = "/usr/sbin/pgbouncer"
	}
	dir, err := os.MkdirTemp(filepath.Dir(c.Dir), "agentmv-pgbouncer-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	var userlist strings.Builder
	for _, u := range append([]BouncerUser{{Superuser, c.Password}}, users...) {
		fmt.Fprintf(&userlist, "%q %q\n", u.Name, u.Password)
	}
	ini := fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
pool_mode = %s
max_client_conn = 500
default_pool_size = 20
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits,application_name
logfile = %s
pidfile = %s
`, c.Port, port, filepath.Join(dir, "userlist.txt"), poolMode, filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	files := map[string]string{"userlist.txt": userlist.String(), "pgbouncer.ini": ini}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
		if err := os.Lchown(filepath.Join(dir, name), c.uid, c.gid); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Lchown(dir, c.uid, c.gid); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	cmd.Dir = dir
	out, _ := os.Create(filepath.Join(dir, "stdout.log"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pglocal: start pgbouncer: %w", err)
	}
	out.Close()
	b := &PgBouncer{Port: port, Dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(b.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return b, nil
		}
		select {
		case <-b.done:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			so, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
			return nil, fmt.Errorf("pglocal: pgbouncer exited during start-up:\n%s%s", log, so)
		case <-ctx.Done():
			b.Close()
			return nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			b.Close()
			return nil, errors.New("pglocal: pgbouncer not listening after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URL is a DSN through pgbouncer. pgx's default statement cache uses named prepared
// statements, which transaction pooling (pgbouncer < 1.21) cannot route, so the DSN selects
// the exec mode that sends unnamed statements.
func (b *PgBouncer) URL(user, password, dbname string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)), Path: "/" + dbname,
		RawQuery: "sslmode=disable&default_query_exec_mode=exec"}
	return u.String()
}

// Close stops pgbouncer and removes its files.
func (b *PgBouncer) Close() error {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(5 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	}
	return os.RemoveAll(b.Dir)
}
