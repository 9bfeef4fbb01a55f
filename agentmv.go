package agentmv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/refresh"
)

// Options configure Open. The zero value reads ./materialize.yaml and ./.env.
type Options struct {
	// ConfigPath is the materialize.yaml to use. Default: materialize.yaml in the working
	// directory or the nearest parent directory that has one (FindConfig).
	ConfigPath string
	// DotenvPath is the .env file to read (existing environment wins). Default: the .env next
	// to ConfigPath. Set to "-" to read none.
	DotenvPath string
	// Overrides win over every other source (the CLI passes its flags here).
	Overrides Settings
	// Environ looks up environment variables. Default os.LookupEnv.
	Environ func(string) (string, bool)
	// Logger receives warnings (unknown YAML keys, lineage drift). Default: discard.
	Logger *slog.Logger
	// PoolMaxConns bounds each connection pool: neither the admin nor the runtime pool opens
	// more connections than this. Zero (or less) means the defaults, 4 (admin) and 8 (runtime).
	PoolMaxConns int32
}

// Project is one materialize.yaml bound to a database. It is safe for concurrent use.
// Close releases its connection pools.
type Project struct {
	cfg      *Config
	settings Settings
	logger   *slog.Logger
	maxConns int32

	mu      sync.Mutex
	admin   *pgxpool.Pool
	runtime *pgxpool.Pool
}

// Open loads the configuration and resolves the settings once. It does not connect: pools are
// opened on first use, so commands that need only one DSN work without the other.
func Open(ctx context.Context, opts Options) (*Project, error) {
	opts = opts.withDefaults()
	cfg, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	s, err := opts.resolve(cfg)
	if err != nil {
		return nil, err
	}
	return &Project{cfg: cfg, settings: s, logger: opts.Logger, maxConns: opts.PoolMaxConns}, nil
}

// RuntimeSettings resolves the settings of a host that serves only the runtime tools, the
// same way Open does (flag > environment > .env > materialize.yaml > default), except that a
// materialize.yaml that does not exist is fine: the target schema then comes from the flag,
// the environment, .env or the default. AGENT_MV_RUNTIME_URL must be set (ErrNoRuntimeURL).
// Both runtime entry points, `agent-mv mcp runtime` and agent-materialize-runtime-mcp, use it.
func RuntimeSettings(opts Options) (Settings, error) {
	opts = opts.withDefaults()
	var cfg *Config
	if _, err := os.Stat(opts.ConfigPath); !errors.Is(err, fs.ErrNotExist) {
		if cfg, err = LoadConfig(opts.ConfigPath); err != nil {
			return Settings{}, err
		}
	}
	s, err := opts.resolve(cfg)
	if err != nil {
		return Settings{}, err
	}
	if s.RuntimeURL == "" {
		return Settings{}, ErrNoRuntimeURL
	}
	return s, nil
}

// withDefaults fills in the documented defaults of the zero fields.
func (o Options) withDefaults() Options {
	if o.ConfigPath == "" {
		o.ConfigPath = defaultConfigPath()
	}
	if o.Environ == nil {
		o.Environ = os.LookupEnv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch o.DotenvPath {
	case "":
		o.DotenvPath = filepath.Join(filepath.Dir(o.ConfigPath), ".env")
	case "-":
		o.DotenvPath = ""
	}
	return o
}

// resolve logs cfg's warnings (cfg may be nil) and resolves the settings.
func (o Options) resolve(cfg *Config) (Settings, error) {
	if cfg != nil {
		for _, w := range cfg.Warnings {
			o.Logger.Warn(w)
		}
	}
	s, err := ResolveSettings(o.Overrides, cfg, o.DotenvPath, o.Environ)
	if err == nil && cfg != nil {
		s.Tools = cfg.ToolSpecs()
		for _, a := range cfg.Agents {
			if s.AgentTools == nil {
				s.AgentTools = map[string]ToolSelection{}
			}
			s.AgentTools[a.Name], _ = cfg.AgentTools(a.Name)
		}
	}
	return s, err
}

// Config is the loaded materialize.yaml.
func (p *Project) Config() *Config { return p.cfg }

// Settings are the resolved settings (print them with %v: secrets are redacted).
func (p *Project) Settings() Settings { return p.settings }

// Names are the schema and role names the project manages.
func (p *Project) Names() boundary.Names {
	return boundary.Names{Schema: p.settings.TargetSchema, RuntimeRole: p.settings.RuntimeRole, OwnerRole: p.settings.OwnerRole}
}

// ErrNoDatabaseURL is returned when an admin operation runs without DATABASE_URL.
var ErrNoDatabaseURL = errors.New("DATABASE_URL is not set; put the admin connection string in .env or the environment (see .env.example)")

// ErrNoRuntimeURL is returned when a runtime operation runs without AGENT_MV_RUNTIME_URL.
var ErrNoRuntimeURL = errors.New("AGENT_MV_RUNTIME_URL is not set; put the runtime role's connection string in .env or the environment (see .env.example)")

// AdminPool returns the pool on DATABASE_URL, opening it on first use.
func (p *Project) AdminPool(ctx context.Context) (*pgxpool.Pool, error) {
	return p.pool(ctx, &p.admin, p.settings.DatabaseURL, EnvDatabaseURL, ErrNoDatabaseURL, 4)
}

// RuntimePool returns the pool on AGENT_MV_RUNTIME_URL, opening it on first use.
func (p *Project) RuntimePool(ctx context.Context) (*pgxpool.Pool, error) {
	return p.pool(ctx, &p.runtime, p.settings.RuntimeURL, EnvRuntimeURL, ErrNoRuntimeURL, 8)
}

// pool returns *slot, first opening it on dsn (named env in errors; missing when dsn is
// empty) with at most poolBound(def) connections.
func (p *Project) pool(ctx context.Context, slot **pgxpool.Pool, dsn, env string, missing error, def int32) (*pgxpool.Pool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if *slot != nil {
		return *slot, nil
	}
	if dsn == "" {
		return nil, missing
	}
	pool, err := openPool(ctx, dsn, env, p.poolBound(def), false, nil)
	if err != nil {
		return nil, err
	}
	*slot = pool
	return pool, nil
}

// poolBound is Options.PoolMaxConns when set, else def.
func (p *Project) poolBound(def int32) int32 {
	if p.maxConns > 0 {
		return p.maxConns
	}
	return def
}

// openPool opens a pool on dsn (name is the setting it came from, for messages). Behind a
// transaction pooler (pooler true) it sends unnamed statements: pgx's default caches named
// prepared statements per connection, which a transaction-pooling PgBouncer before 1.21 hands
// to other server connections.
// openPool opens a pool on dsn (named name in errors); tracer, when not nil, traces its
// queries.
func openPool(ctx context.Context, dsn, name string, maxConns int32, pooler bool, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	if placeholderDSN(dsn) {
		return nil, fmt.Errorf("%s still holds the placeholders of .env.example (%s): put your real connection string in .env (user, password, host and database name)", name, RedactDSN(dsn))
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN, password included: say what is wrong without it.
		return nil, fmt.Errorf("%s is not a valid connection string (%s); check its syntax: postgres://user:password@host:port/dbname", name, RedactDSN(dsn))
	}
	cfg.MaxConns = maxConns
	cfg.MaxConnIdleTime = 5 * time.Minute
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "agentmv"
	// A canceled context sends the server a cancel request, so the statement stops there (a
	// refresh is recorded as canceled and keeps the old contents) and the connection stays
	// usable; the connection is closed only if the server has not answered 5 s later. pgx's
	// default closes the connection at once and leaves the statement running on the server.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	if tracer != nil {
		cfg.ConnConfig.Tracer = tracer
	}
	if pooler && cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect with %s (%s): %w", name, RedactDSN(dsn), err)
	}
	return pool, nil
}

// Refresher returns a refresh client on the runtime pool: refreshes run as the runtime role
// through the SECURITY DEFINER function, exactly as an agent's would.
func (p *Project) Refresher(ctx context.Context) (*refresh.Client, error) {
	pool, err := p.RuntimePool(ctx)
	if err != nil {
		return nil, err
	}
	return &refresh.Client{DB: pool, Schema: p.settings.TargetSchema}, nil
}

// Refresh refreshes one view as the runtime role.
func (p *Project) Refresh(ctx context.Context, name string) (refresh.Result, error) {
	c, err := p.Refresher(ctx)
	if err != nil {
		return refresh.Result{View: name}, err
	}
	return c.Refresh(ctx, name)
}

// RefreshAll refreshes every managed view in dependency order (see refresh.Client.RefreshAll).
func (p *Project) RefreshAll(ctx context.Context, opts refresh.AllOptions) (refresh.Summary, error) {
	c, err := p.Refresher(ctx)
	if err != nil {
		return refresh.Summary{}, err
	}
	return c.RefreshAll(ctx, opts)
}

// Status returns the status and freshness of every managed view, read as the runtime role.
func (p *Project) Status(ctx context.Context) ([]refresh.ViewStatus, error) {
	c, err := p.Refresher(ctx)
	if err != nil {
		return nil, err
	}
	return c.Status(ctx)
}

// Close releases the connection pools.
func (p *Project) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.admin != nil {
		p.admin.Close()
		p.admin = nil
	}
	if p.runtime != nil {
		p.runtime.Close()
		p.runtime = nil
	}
}

// Version is the agentmv module version built into the running binary ("devel" for a build
// from a checkout).
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == "github.com/agentmv/agentmv" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/agentmv/agentmv" {
				return d.Version
			}
		}
	}
	return "devel"
}

// placeholderDSN reports whether dsn is still .env.example's template
// (postgresql://USER:PASS@HOST:5432/DBNAME), which would otherwise fail as an unknown host.
func placeholderDSN(dsn string) bool {
	return strings.Contains(dsn, ":PASS@") || strings.Contains(dsn, "@HOST:") || strings.Contains(dsn, "@HOST/") || strings.HasSuffix(dsn, "/DBNAME")
}
