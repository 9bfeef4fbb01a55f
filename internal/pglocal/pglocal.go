package pglocal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Superuser is the name of the bootstrap superuser of every cluster.
const Superuser = "postgres"

// EnvBinDir names the variable that selects the server binaries (a directory holding initdb
// and postgres) for every cluster started without Options.BinDir: the tests (internal/pgtest)
// and `agent-mv demo`. scripts/install-pg-versions.sh installs the supported major versions
// Debian does not ship and prints their bin directories.
const EnvBinDir = "AGENTMV_PG_BINDIR"

// ErrNoBinaries reports that no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (looked at $" + EnvBinDir + ", `pg_config --bindir`, PATH and /usr/lib/postgresql/*/bin); install them, e.g. `apt-get install -y postgresql` or scripts/install-pg-versions.sh, or set DATABASE_URL to an existing server")

// Options configure a cluster. The zero value is ready to use.
type Options struct {
	// BinDir holds initdb and postgres. Empty means FindBinDir.
	BinDir string
	// Port to listen on at 127.0.0.1. Zero picks a free one.
	Port int
	// Password of the superuser over TCP. Empty generates a random one.
	Password string
	// Settings are extra server settings passed as `-c name=value`.
	Settings map[string]string
	// BaseDir is where the cluster directory is created. Empty prefers /dev/shm (tmpfs).
	BaseDir string
	// StopOnSignal stops the cluster when the process receives SIGINT or SIGTERM, then
	// re-delivers the signal's default effect by exiting with status 130/143.
	StopOnSignal bool
}

// Cluster is a running throwaway PostgreSQL server. Close stops it and removes its files.
type Cluster struct {
	BinDir    string
	Dir       string // cluster root: data/, sock/, server.log
	DataDir   string
	SocketDir string
	LogFile   string
	Port      int
	Password  string

	settings map[string]string
	cred     *syscall.Credential
	uid, gid int

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	closed   bool
	stopSig  chan os.Signal
	keepData bool
}

// FindBinDir locates the PostgreSQL server binaries: $AGENTMV_PG_BINDIR when set (it must hold
// initdb and postgres, or FindBinDir fails rather than fall back to another version), else the
// newest of `pg_config --bindir`, PATH, /usr/lib/postgresql/*/bin (highest version first).
func FindBinDir() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		if !hasServerBinaries(dir) {
			return "", fmt.Errorf("%s=%s holds no initdb and postgres binaries; point it at a PostgreSQL bin directory (scripts/install-pg-versions.sh prints them) or unset it", EnvBinDir, dir)
		}
		return dir, nil
	}
	has := hasServerBinaries
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	globbed, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(globbed, func(i, j int) bool { return versionOf(globbed[i]) > versionOf(globbed[j]) })
	candidates = append(candidates, globbed...)
	for _, c := range candidates {
		if c != "" && has(c) {
			return c, nil
		}
	}
	return "", ErrNoBinaries
}

func hasServerBinaries(dir string) bool {
	for _, b := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// Start initialises and starts a new cluster. It listens on 127.0.0.1 with SCRAM password
// authentication and on its own Unix socket with trust authentication. It runs the server as
// the `postgres` OS user when the current process is root (initdb refuses root).
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	base := opts.BaseDir
	if base == "" {
		base = defaultBaseDir()
	}
	dir, err := os.MkdirTemp(base, "agentmv-pg-")
	if err != nil {
		return nil, fmt.Errorf("pglocal: create cluster dir under %s: %w", base, err)
	}
	c := &Cluster{
		BinDir:    binDir,
		Dir:       dir,
		DataDir:   filepath.Join(dir, "data"),
		SocketDir: filepath.Join(dir, "sock"),
		LogFile:   filepath.Join(dir, "server.log"),
		Password:  opts.Password,
		settings:  opts.Settings,
		uid:       os.Getuid(),
		gid:       os.Getgid(),
	}
	if c.Password == "" {
		c.Password = randomHex(12)
	}
	if err := c.prepare(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := c.initdb(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	port := opts.Port
	for attempt := 0; ; attempt++ {
		if opts.Port == 0 {
			if port, err = freePort(); err != nil {
				_ = os.RemoveAll(dir)
				return nil, err
			}
		}
		c.Port = port
		err = c.start(ctx)
		if err == nil {
			break
		}
		if attempt == 0 && opts.Port == 0 && errors.Is(err, errPortInUse) {
			continue // the free port was taken between probe and bind: retry once
		}
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if opts.StopOnSignal {
		c.stopSig = make(chan os.Signal, 1)
		signal.Notify(c.stopSig, os.Interrupt, syscall.SIGTERM)
		go func() {
			sig, ok := <-c.stopSig
			if !ok {
				return
			}
			_ = c.Close()
			code := 130
			if sig == syscall.SIGTERM {
				code = 143
			}
			os.Exit(code)
		}()
	}
	return c, nil
}

func defaultBaseDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", ".agentmv-probe-"); err == nil {
			name := f.Name()
			f.Close()
			os.Remove(name)
			return "/dev/shm"
		}
	}
	return os.TempDir()
}

// prepare creates the directory layout, owned by the OS user that will run the server.
func (c *Cluster) prepare() error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("pglocal: running as root needs the `postgres` OS user to run initdb (initdb refuses root): %w; install the postgresql package or run as a normal user", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.uid, c.gid = uid, gid
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	for _, d := range []string{c.SocketDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
	}
	pwfile := filepath.Join(c.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	for _, p := range []string{c.Dir, c.SocketDir, pwfile} {
		if err := os.Lchown(p, c.uid, c.gid); err != nil {
			return fmt.Errorf("pglocal: chown %s: %w", p, err)
		}
	}
	return nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, name), args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd
}

func (c *Cluster) initdb(ctx context.Context) error {
	cmd := c.command(ctx, "initdb",
		"-D", c.DataDir,
		"-U", Superuser,
		"--pwfile", filepath.Join(c.Dir, "pwfile"),
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"-E", "UTF8",
		"--locale=C",
		"--no-sync",
		"--no-instructions",
	)
	out, err := cmd.CombinedOutput()
	_ = os.Remove(filepath.Join(c.Dir, "pwfile"))
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("pglocal: the OS user running the server (uid %d) cannot execute %s: %w; install the binaries where every parent directory is world-searchable (e.g. /var/cache, /opt; not /root)", c.uid, c.BinDir, err)
	}
	if err != nil {
		return fmt.Errorf("pglocal: initdb failed: %w\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

var errPortInUse = errors.New("port already in use")

// start runs the postgres binary directly as a child process. The child gets SIGINT (fast
// shutdown) if this process dies, so a killed test binary never leaks a server.
func (c *Cluster) start(ctx context.Context) error {
	args := []string{
		"-D", c.DataDir,
		"-p", strconv.Itoa(c.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + c.SocketDir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=128MB",
		"-c", "logging_collector=off",
		"-c", "password_encryption=scram-sha-256",
		"-c", "log_min_messages=warning",
	}
	keys := make([]string, 0, len(c.settings))
	for k := range c.settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+c.settings[k])
	}
	logf, err := os.OpenFile(c.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pglocal: open log: %w", err)
	}
	logStart, _ := logf.Seek(0, 2)
	cmd := exec.Command(filepath.Join(c.BinDir, "postgres"), args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("pglocal: start postgres: %w", err)
	}
	logf.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			tail := c.logSince(logStart)
			if strings.Contains(tail, "Address already in use") || strings.Contains(tail, "could not bind") {
				return fmt.Errorf("pglocal: port %d: %w", c.Port, errPortInUse)
			}
			return fmt.Errorf("pglocal: postgres exited during start-up; log %s:\n%s", c.LogFile, tail)
		case <-ctx.Done():
			c.kill()
			return ctx.Err()
		default:
		}
		if c.ping(ctx) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			c.kill()
			return fmt.Errorf("pglocal: server not ready after 30s; log %s:\n%s", c.LogFile, c.logSince(logStart))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *Cluster) ping(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgconn.Connect(cctx, c.SocketURL("postgres"))
	if err != nil {
		return err
	}
	return conn.Close(cctx)
}

func (c *Cluster) logSince(off int64) string {
	b, err := os.ReadFile(c.LogFile)
	if err != nil || int64(len(b)) < off {
		return ""
	}
	return string(bytes.TrimSpace(b[off:]))
}

// URL is a DSN for the superuser over TCP with password authentication.
func (c *Cluster) URL(dbname string) string {
	return c.URLFor(Superuser, c.Password, dbname)
}

// URLFor is a DSN for any role over TCP with password authentication.
func (c *Cluster) URLFor(user, password, dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// SocketURL is a DSN for the superuser over the cluster's own Unix socket (trust auth).
func (c *Cluster) SocketURL(dbname string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", c.SocketDir, c.Port, Superuser, dbname)
}

// Stop shuts the server down (fast mode) and keeps its data, so Restart can bring it back.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
		return nil
	case <-time.After(15 * time.Second):
	}
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-exited:
		return nil
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	return fmt.Errorf("pglocal: server did not stop in time and was killed")
}

// Restart starts a stopped cluster again on the same port.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.Stop(); err != nil {
		return err
	}
	return c.start(ctx)
}

func (c *Cluster) kill() {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.cmd = nil
	c.mu.Unlock()
	if cmd != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// Close stops the server and removes the cluster directory. It is safe to call twice.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.stopSig != nil {
		signal.Stop(c.stopSig)
		close(c.stopSig)
	}
	c.mu.Unlock()
	err := c.Stop()
	if !c.keepData {
		if rerr := os.RemoveAll(c.Dir); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglocal: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
