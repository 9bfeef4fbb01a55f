package boundary

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of RoleLimits: what every session of the runtime role starts with, whoever opens it
// (the runtime tools bound each of their queries more tightly: tools.DefaultQueryStatementTimeout).
const (
	// DefaultConnectionLimit leaves most of a default max_connections (100) to everyone else
	// while several MCP servers (8 connections each by default) share the runtime role.
	DefaultConnectionLimit = 32
	// DefaultRoleStatementTimeout is the runtime role's default statement_timeout: it ends any
	// statement of a direct session after 30 s. The runtime tools set their own
	// per-transaction timeout; refresh lifts it for the refresh call.
	DefaultRoleStatementTimeout = 30 * time.Second
	// DefaultRoleIdleInTransactionTimeout ends a runtime-role session that keeps a transaction
	// (and its locks) open without doing anything for a minute.
	DefaultRoleIdleInTransactionTimeout = time.Minute
)

// RoleLimits are what apply sets on the runtime role so that whoever holds its DSN starts every
// session limited: CONNECTION LIMIT, and role defaults for statement_timeout,
// idle_in_transaction_session_timeout and default_transaction_read_only = on. Doctor checks
// them in a session of its own. Zero fields mean the defaults above.
type RoleLimits struct {
	ConnectionLimit          int
	StatementTimeout         time.Duration
	IdleInTransactionTimeout time.Duration
}

// WithDefaults fills zero fields with the defaults.
func (l RoleLimits) WithDefaults() RoleLimits {
	if l.ConnectionLimit <= 0 {
		l.ConnectionLimit = DefaultConnectionLimit
	}
	if l.StatementTimeout <= 0 {
		l.StatementTimeout = DefaultRoleStatementTimeout
	}
	if l.IdleInTransactionTimeout <= 0 {
		l.IdleInTransactionTimeout = DefaultRoleIdleInTransactionTimeout
	}
	return l
}

// roleSetting is one role default: its name and the value as pg_settings.setting shows it
// (milliseconds for the timeouts), which is also how apply writes it.
type roleSetting struct{ name, value string }

// settings are the role defaults of l, in the order apply sets them.
func (l RoleLimits) settings() []roleSetting {
	l = l.WithDefaults()
	return []roleSetting{
		{"statement_timeout", strconv.FormatInt(l.StatementTimeout.Milliseconds(), 10)},
		{"idle_in_transaction_session_timeout", strconv.FormatInt(l.IdleInTransactionTimeout.Milliseconds(), 10)},
		{"default_transaction_read_only", "on"},
	}
}

var (
	// roleSettingsSQL: the role's connection limit, its own defaults (ALTER ROLE ... SET) and
	// those for this database (ALTER ROLE ... IN DATABASE ... SET), as name=value.
	roleSettingsSQL = mustSQL("role_settings", `
SELECT r.rolconnlimit, pg_catalog.current_database()::text,
       coalesce((SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0), '{}'),
       coalesce((SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s
                  WHERE s.setrole = r.oid
                    AND s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())), '{}')
  FROM pg_catalog.pg_roles r WHERE r.rolname = $1`)
	// The role is Arg 0 (the runtime role, or an agent's role).
	connectionLimitSQL  = mustSQL("role_connection_limit", `ALTER ROLE {{.Arg 0}} CONNECTION LIMIT {{index .Args 1}}`)
	setRoleSettingSQL   = mustSQL("role_set_setting", `ALTER ROLE {{.Arg 0}} SET {{.Arg 1}} = {{.LitArg 2}}`)
	resetDBRoleSettings = mustSQL("role_reset_db_setting", `ALTER ROLE {{.Arg 0}} IN DATABASE {{.Arg 1}} RESET {{.Arg 2}}`)
)

// roleSettingsState is what roleSettingsSQL read.
type roleSettingsState struct {
	connLimit int
	database  string
	role, db  map[string]string // setting name -> value, role-wide and for this database
}

func readRoleSettings(ctx context.Context, q Reader, role string) (roleSettingsState, bool, error) {
	var st roleSettingsState
	var roleCfg, dbCfg []string
	err := q.QueryRow(ctx, roleSettingsSQL.render(Names{}), role).Scan(&st.connLimit, &st.database, &roleCfg, &dbCfg)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("read settings of role %s: %w", role, err)
	}
	st.role, st.db = parseSetConfig(roleCfg), parseSetConfig(dbCfg)
	return st, true, nil
}

func parseSetConfig(cfg []string) map[string]string {
	m := make(map[string]string, len(cfg))
	for _, kv := range cfg {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// SetRoleLimits makes the runtime role's connection limit and role defaults those of l, and
// removes per-database overrides of those defaults in the current database (a role may change
// its own defaults with ALTER ROLE ... SET; this puts them back). It changes only what
// differs and returns a note per change. Apply runs it in its transaction, as the admin;
// SyncAgents runs the same for each agent's role.
func SetRoleLimits(ctx context.Context, tx pgx.Tx, n Names, l RoleLimits) ([]string, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return setRoleLimits(ctx, tx, "runtime role", n.RuntimeRole, l)
}

// setRoleLimits is SetRoleLimits for role (kind says which, for messages).
func setRoleLimits(ctx context.Context, tx pgx.Tx, kind, role string, l RoleLimits) ([]string, error) {
	l = l.WithDefaults()
	n := Names{}
	st, ok, err := readRoleSettings(ctx, tx, role)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s %s does not exist", kind, role)
	}
	var changes []string
	if st.connLimit != l.ConnectionLimit {
		if err := exec(ctx, tx, "set the connection limit of "+role,
			connectionLimitSQL.render(n, role, strconv.Itoa(l.ConnectionLimit))); err != nil {
			return nil, err
		}
		changes = append(changes, fmt.Sprintf("set CONNECTION LIMIT %d on role %s", l.ConnectionLimit, role))
	}
	for _, s := range l.settings() {
		if v, ok := st.db[s.name]; ok {
			if err := exec(ctx, tx, "reset "+s.name+" of "+role+" in database "+st.database,
				resetDBRoleSettings.render(n, role, st.database, s.name)); err != nil {
				return nil, err
			}
			changes = append(changes, fmt.Sprintf("removed %s = %s set for role %s in database %s", s.name, v, role, st.database))
		}
		if st.role[s.name] != s.value {
			if err := exec(ctx, tx, "set "+s.name+" of "+role, setRoleSettingSQL.render(n, role, s.name, s.value)); err != nil {
				return nil, err
			}
			changes = append(changes, fmt.Sprintf("set %s = %s on role %s", s.name, s.value, role))
		}
	}
	return changes, nil
}

// sessionSettingsSQL reads, in a session of the runtime role, what it started with.
var sessionSettingsSQL = mustSQL("session_settings", `
SELECT name::text, setting::text, source::text FROM pg_catalog.pg_settings WHERE name = ANY ($1::text[]) ORDER BY name`)

// sessionChecks compares what a fresh session of the runtime role got with l (and
// lo_compat_privileges, which opens every large object to every role): one Finding per
// difference, with the statements that put it right for the source Postgres reports.
func sessionChecks(ctx context.Context, conn Reader, n Names, database string, l RoleLimits) ([]Finding, error) {
	want := l.settings()
	want = append(want, roleSetting{"lo_compat_privileges", "off"})
	names := make([]string, len(want))
	for i, s := range want {
		names[i] = s.name
	}
	rows, err := conn.Query(ctx, sessionSettingsSQL.render(Names{}), names)
	if err != nil {
		return nil, fmt.Errorf("read session settings: %w", err)
	}
	got := map[string][2]string{}
	var name, setting, source string
	if _, err := pgx.ForEachRow(rows, []any{&name, &setting, &source}, func() error {
		got[name] = [2]string{setting, source}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read session settings: %w", err)
	}
	r, db := quote(n.RuntimeRole), quote(database)
	var out []Finding
	for _, s := range want {
		g, ok := got[s.name]
		if !ok || g[0] == s.value {
			continue
		}
		f := Finding{Object: "setting " + s.name + " of runtime sessions",
			Exposure: fmt.Sprintf("a session of %s starts with %s = %s (from %s), not %s", n.RuntimeRole, s.name, g[0], sourceName(g[1]), s.value)}
		var fix []string
		switch {
		case g[1] == "client":
			fix = append(fix, fmt.Sprintf("remove %s from the options of AGENT_MV_RUNTIME_URL", s.name))
		case s.name == "lo_compat_privileges":
			switch g[1] {
			case "database":
				fix = append(fix, fmt.Sprintf("ALTER DATABASE %s RESET lo_compat_privileges", db))
			case "user":
				fix = append(fix, fmt.Sprintf("ALTER ROLE %s RESET lo_compat_privileges", r))
			case "database user":
				fix = append(fix, fmt.Sprintf("ALTER ROLE %s IN DATABASE %s RESET lo_compat_privileges", r, db))
			default:
				fix = append(fix, "ALTER SYSTEM SET lo_compat_privileges = off", "SELECT pg_reload_conf()")
			}
		default:
			if g[1] == "database user" {
				fix = append(fix, fmt.Sprintf("ALTER ROLE %s IN DATABASE %s RESET %s", r, db, s.name))
			}
			fix = append(fix, fmt.Sprintf("ALTER ROLE %s SET %s = %s", r, s.name, quoteLiteral(s.value)))
		}
		f.Fix = strings.Join(fix, "; ")
		out = append(out, f)
	}
	return out, nil
}

// sourceName turns pg_settings.source into words.
func sourceName(source string) string {
	switch source {
	case "user":
		return "a role setting"
	case "database user":
		return "a role setting for this database"
	case "database":
		return "a database setting"
	case "client":
		return "the connection string"
	case "default":
		return "the server default"
	}
	return "the server's " + source
}

// sessionsSQL: sessions of the role that hold what blocks agentmv: an advisory lock while idle
// outside any transaction (agentmv's own locks are transaction scoped, so only a hand-made
// pg_advisory_lock does that; the refresh locks name their view), or a transaction left idle
// longer than the role's idle_in_transaction_session_timeout ($2 ms) allows, which only a
// session that turned the timeout off can do.
var sessionsSQL = mustSQL("runtime_sessions", `
SELECT a.pid, a.state, a.state_change,
       coalesce((SELECT string_agg(coalesce(
                   (SELECT format('refresh lock of view %s', v.name) FROM {{.Views}} v
                     WHERE l.objsubid = 2 AND l.classid = ({{template "refresh_lock_key1" "$3::text"}})::oid
                       AND l.objid = ({{template "refresh_lock_key2" "v.name"}})::oid),
                   format('advisory lock (%s, %s, %s)', l.classid, l.objid, l.objsubid)), ', ' ORDER BY l.classid, l.objid)
                   FROM pg_catalog.pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted), '')
  FROM pg_catalog.pg_stat_activity a
 WHERE a.usename = $1 AND a.pid <> pg_catalog.pg_backend_pid()
   AND ((a.state = 'idle' AND EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted))
     OR (a.state LIKE 'idle in transaction%' AND a.state_change < pg_catalog.now() - make_interval(secs => $2::float8 / 1000)))
 ORDER BY a.pid`)

// sessionFindings lists the sessions of role (the runtime role or an agent's) that hold locks
// agentmv needs (see sessionsSQL), each with the statement that ends it.
func sessionFindings(ctx context.Context, q Reader, n Names, role string, l RoleLimits) ([]Finding, error) {
	l = l.WithDefaults()
	// A few seconds beyond the timeout: the server ends such a session itself at the timeout.
	grace := l.IdleInTransactionTimeout + 5*time.Second
	rows, err := q.Query(ctx, sessionsSQL.render(n), role, grace.Milliseconds(), n.Schema)
	if err != nil {
		return nil, fmt.Errorf("read sessions of %s: %w", role, err)
	}
	var out []Finding
	var pid int32
	var state string
	var since time.Time
	var locks string
	_, err = pgx.ForEachRow(rows, []any{&pid, &state, &since, &locks}, func() error {
		f := Finding{Object: fmt.Sprintf("session %d of %s", pid, role), Fix: fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid)}
		if state == "idle" {
			f.Exposure = fmt.Sprintf("idle since %s outside a transaction, holding %s (refreshes of that view answer busy while it does)", since.UTC().Format(time.RFC3339), locks)
		} else {
			f.Exposure = fmt.Sprintf("%s since %s, longer than idle_in_transaction_session_timeout (%s) allows: it turned the timeout off and keeps its locks", state, since.UTC().Format(time.RFC3339), l.IdleInTransactionTimeout)
			if locks != "" {
				f.Exposure += ", " + locks
			}
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read sessions of %s: %w", role, err)
	}
	return out, nil
}

// containsSetting reports whether name is one of the role defaults RoleLimits manages.
func containsSetting(name string) bool {
	return slices.ContainsFunc(RoleLimits{}.settings(), func(s roleSetting) bool { return s.name == name })
}

// roleLimitFindings compares role's connection limit and role defaults, as the catalogs hold
// them, with l (what apply sets): one Finding per difference, with the statement that puts it
// right. A role that does not exist has none (the caller reports it).
func roleLimitFindings(ctx context.Context, q Reader, role string, l RoleLimits) ([]Finding, error) {
	l = l.WithDefaults()
	st, ok, err := readRoleSettings(ctx, q, role)
	if err != nil || !ok {
		return nil, err
	}
	r := quote(role)
	var out []Finding
	if st.connLimit != l.ConnectionLimit {
		have := fmt.Sprint(st.connLimit)
		if st.connLimit < 0 {
			have = "none"
		}
		out = append(out, Finding{Object: "role " + role,
			Exposure: fmt.Sprintf("connection limit %s, not %d: a leaked DSN could use up the server's connections", have, l.ConnectionLimit),
			Fix:      fmt.Sprintf("ALTER ROLE %s CONNECTION LIMIT %d", r, l.ConnectionLimit)})
	}
	for _, s := range l.settings() {
		if v, ok := st.db[s.name]; ok {
			out = append(out, Finding{Object: "setting " + s.name + " of role " + role,
				Exposure: fmt.Sprintf("set to %s for database %s, overriding the role's default", v, st.database),
				Fix:      fmt.Sprintf("ALTER ROLE %s IN DATABASE %s RESET %s", r, quote(st.database), s.name)})
		}
		if have, ok := st.role[s.name]; !ok || have != s.value {
			if !ok {
				have = "not set"
			}
			out = append(out, Finding{Object: "setting " + s.name + " of role " + role,
				Exposure: fmt.Sprintf("role default %s, not %s", have, s.value),
				Fix:      fmt.Sprintf("ALTER ROLE %s SET %s = %s", r, s.name, quoteLiteral(s.value))})
		}
	}
	return out, nil
}
