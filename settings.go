package agentmv

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/joho/godotenv"

	"github.com/agentmv/agentmv/tools"

	"github.com/agentmv/agentmv/boundary"
)

// Environment variable names (the seed's, plus the two role names).
const (
	EnvDatabaseURL     = "DATABASE_URL"
	EnvRuntimeURL      = "AGENT_MV_RUNTIME_URL"
	EnvRuntimePassword = "AGENT_MV_RUNTIME_PASSWORD"
	EnvTargetSchema    = "AGENT_MV_TARGET_SCHEMA"
	EnvRuntimeRole     = "AGENT_MV_RUNTIME_ROLE"
	EnvOwnerRole       = "AGENT_MV_OWNER_ROLE"
	// EnvRuntimeReplicaURL holds the runtime role's DSN on one or more read-only hot standbys,
	// separated by commas; the read tools use them (see RuntimeOptions.ReplicaURLs).
	EnvRuntimeReplicaURL = "AGENT_MV_RUNTIME_REPLICA_URL"
)

// Defaults for the settings that have one.
const (
	DefaultRuntimePassword = "agent_mv_runtime"
	DefaultTargetSchema    = "agent_mv"
	DefaultRuntimeRole     = "agent_mv_runtime"
	DefaultOwnerRole       = "agent_mv_owner"
)

// redacted replaces every secret in printed settings and DSNs.
const redacted = "xxxxx"

// Settings are the connection and naming settings of one agentmv project, resolved once by
// ResolveSettings. Its String and LogValue methods never print passwords.
type Settings struct {
	// DatabaseURL is the privileged DSN used by apply, doctor, drop and setup (DATABASE_URL).
	DatabaseURL string
	// RuntimeURL is the view-only runtime role's DSN (AGENT_MV_RUNTIME_URL).
	RuntimeURL string
	// RuntimePassword is set on the runtime role when apply creates it (AGENT_MV_RUNTIME_PASSWORD).
	RuntimePassword string
	// TargetSchema holds the managed views (AGENT_MV_TARGET_SCHEMA, then the YAML's target_schema).
	TargetSchema string
	// RuntimeRole is the LOGIN role agents connect as (AGENT_MV_RUNTIME_ROLE).
	RuntimeRole string
	// OwnerRole is the NOLOGIN role that owns the views and the refresh function (AGENT_MV_OWNER_ROLE).
	OwnerRole string
	// RuntimeReplicaURLs are the runtime role's DSNs on read-only hot standbys of the primary
	// (AGENT_MV_RUNTIME_REPLICA_URL, comma-separated). list_views, describe_view, query_view
	// and get_lineage read from them; refresh_view always runs on RuntimeURL.
	RuntimeReplicaURLs []string
	// AgentPasswords are the passwords of the agents' roles (materialize.yaml's agents), by
	// agent name, read from each agent's password_env; agents whose variable is unset are absent.
	AgentPasswords map[string]string
	// AgentTokens are the agents' bearer tokens on HTTP, by agent name, read from each agent's
	// token_env; agents without token_env, or whose variable is unset, are absent.
	AgentTokens map[string]string
	// Tools are the tools declared in materialize.yaml (`tools:`), when it was read; the
	// runtime entry points serve them (RuntimeOptions.Tools).
	Tools []tools.ToolSpec
	// AgentTools are the tools each agent of materialize.yaml is served, by agent name
	// (Config.AgentTools), when it was read; OpenAgentRuntime serves them.
	AgentTools map[string]ToolSelection
}

// ResolveSettings resolves every setting once, in the order flag > environment > .env >
// YAML > default. flags holds the values given explicitly (empty means not given); cfg may be
// nil; dotenvPath names the .env file (empty, or a file that does not exist, means none); it is
// read with godotenv without changing the process environment. environ looks variables up
// (nil means os.LookupEnv); a variable set to the empty string counts as unset.
func ResolveSettings(flags Settings, cfg *Config, dotenvPath string, environ func(string) (string, bool)) (Settings, error) {
	if environ == nil {
		environ = os.LookupEnv
	}
	dotenv := map[string]string{}
	if dotenvPath != "" {
		m, err := godotenv.Read(dotenvPath)
		switch {
		case err == nil:
			dotenv = m
		case errors.Is(err, fs.ErrNotExist):
		default:
			return Settings{}, fmt.Errorf("read %s: %w (fix the line or remove the file)", dotenvPath, err)
		}
	}
	pick := func(flag, env, yaml, def string) string {
		if flag != "" {
			return flag
		}
		if v, ok := environ(env); ok && v != "" {
			return v
		}
		if v := dotenv[env]; v != "" {
			return v
		}
		if yaml != "" {
			return yaml
		}
		return def
	}
	yamlSchema := ""
	if cfg != nil {
		yamlSchema = cfg.TargetSchema
	}
	s := Settings{
		DatabaseURL:     pick(flags.DatabaseURL, EnvDatabaseURL, "", ""),
		RuntimeURL:      pick(flags.RuntimeURL, EnvRuntimeURL, "", ""),
		RuntimePassword: pick(flags.RuntimePassword, EnvRuntimePassword, "", DefaultRuntimePassword),
		TargetSchema:    pick(flags.TargetSchema, EnvTargetSchema, yamlSchema, DefaultTargetSchema),
		RuntimeRole:     pick(flags.RuntimeRole, EnvRuntimeRole, "", DefaultRuntimeRole),
		OwnerRole:       pick(flags.OwnerRole, EnvOwnerRole, "", DefaultOwnerRole),
	}
	if len(flags.RuntimeReplicaURLs) > 0 {
		s.RuntimeReplicaURLs = splitDSNList(strings.Join(flags.RuntimeReplicaURLs, ","))
	} else {
		s.RuntimeReplicaURLs = splitDSNList(pick("", EnvRuntimeReplicaURL, "", ""))
	}
	if cfg != nil {
		for _, a := range cfg.Agents {
			if v := pick(flags.AgentPasswords[a.Name], a.PasswordEnv, "", ""); v != "" {
				if s.AgentPasswords == nil {
					s.AgentPasswords = map[string]string{}
				}
				s.AgentPasswords[a.Name] = v
			}
			token := flags.AgentTokens[a.Name]
			if token == "" && a.TokenEnv != "" {
				token = pick("", a.TokenEnv, "", "")
			}
			if v := token; v != "" {
				if s.AgentTokens == nil {
					s.AgentTokens = map[string]string{}
				}
				s.AgentTokens[a.Name] = v
			}
		}
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// splitDSNList splits a comma-separated list of DSNs, dropping blanks. URL DSNs never contain
// a bare comma (pgx's multi-host form host1,host2 is not supported in the list: give one
// DSN per standby).
func splitDSNList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// Validate checks the names in s: the schema and both roles must match ^[a-z_][a-z0-9_]*$,
// be at most 63 bytes and not start with pg_ (reserved by Postgres), and the roles must differ
// (boundary.ValidateSchemaName and boundary.ValidateRoleName).
func (s Settings) Validate() error {
	if err := boundary.ValidateSchemaName(s.TargetSchema); err != nil {
		return fmt.Errorf("invalid settings: %w (set %s or target_schema)", err, EnvTargetSchema)
	}
	for _, r := range []struct{ kind, name, env string }{
		{"runtime role", s.RuntimeRole, EnvRuntimeRole},
		{"owner role", s.OwnerRole, EnvOwnerRole},
	} {
		if err := boundary.ValidateRoleName(r.kind, r.name); err != nil {
			return fmt.Errorf("invalid settings: %w (set %s)", err, r.env)
		}
	}
	if s.RuntimeRole == s.OwnerRole {
		return fmt.Errorf("invalid settings: the runtime role and the owner role are both %q; they must differ or the boundary is gone (set %s or %s)",
			s.RuntimeRole, EnvRuntimeRole, EnvOwnerRole)
	}
	return nil
}

// String prints the settings with every password masked. RuntimeReplicaURLs appear only
// when set.
func (s Settings) String() string {
	replicas := ""
	if len(s.RuntimeReplicaURLs) > 0 {
		replicas = ", RuntimeReplicaURLs: [" + strings.Join(redactDSNs(s.RuntimeReplicaURLs), " ") + "]"
	}
	return fmt.Sprintf("Settings{DatabaseURL: %s, RuntimeURL: %s, RuntimePassword: %s, TargetSchema: %s, RuntimeRole: %s, OwnerRole: %s%s}",
		RedactDSN(s.DatabaseURL), RedactDSN(s.RuntimeURL), maskSecret(s.RuntimePassword), s.TargetSchema, s.RuntimeRole, s.OwnerRole, replicas)
}

func redactDSNs(dsns []string) []string {
	out := make([]string, len(dsns))
	for i, d := range dsns {
		out[i] = RedactDSN(d)
	}
	return out
}

// GoString keeps %#v from printing secrets too.
func (s Settings) GoString() string { return s.String() }

// LogValue implements slog.LogValuer with every password masked.
func (s Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", RedactDSN(s.DatabaseURL)),
		slog.String("runtime_url", RedactDSN(s.RuntimeURL)),
		slog.String("runtime_password", maskSecret(s.RuntimePassword)),
		slog.String("target_schema", s.TargetSchema),
		slog.String("runtime_role", s.RuntimeRole),
		slog.String("owner_role", s.OwnerRole),
		slog.Any("runtime_replica_urls", redactDSNs(s.RuntimeReplicaURLs)),
	)
}

// Redact masks every secret of s (the passwords, and the DSNs' passwords) that appears in text,
// and any DSN password RedactText finds. Use it on error messages before printing them.
func (s Settings) Redact(text string) string {
	var secrets []string
	for _, dsn := range append([]string{s.DatabaseURL, s.RuntimeURL}, s.RuntimeReplicaURLs...) {
		if p := dsnPassword(dsn); p != "" {
			secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	if s.RuntimePassword != "" {
		secrets = append(secrets, s.RuntimePassword)
	}
	for _, m := range []map[string]string{s.AgentPasswords, s.AgentTokens} {
		for _, v := range m {
			secrets = append(secrets, v)
		}
	}
	for _, sec := range secrets {
		if len(sec) >= 3 {
			text = strings.ReplaceAll(text, sec, redacted)
		}
	}
	return RedactText(text)
}

func maskSecret(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// dsnPassword extracts the password from a URL or key=value DSN ("" when none).
func dsnPassword(dsn string) string {
	if isURLDSN(dsn) {
		if u, err := url.Parse(dsn); err == nil {
			if p, ok := u.User.Password(); ok {
				return p
			}
			return u.Query().Get("password")
		}
		return ""
	}
	if m := kvPassword.FindStringSubmatch(dsn); m != nil {
		v := m[2]
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(strings.Trim(v, "'"), `\'`, "'")
		}
		return v
	}
	return ""
}

func isURLDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

var (
	// kvPassword matches password=… in a key=value DSN, quoted or not.
	kvPassword = regexp.MustCompile(`(?i)\b((?:ssl)?password)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s]*)`)
	// urlUserinfo matches the user:password@ part of postgres URLs inside free text.
	urlUserinfo = regexp.MustCompile(`(postgres(?:ql)?://[^:@/\s]*):[^@\s]*@`)
	// urlQueryPassword matches password=… query parameters inside free text.
	urlQueryPassword = regexp.MustCompile(`(?i)([?&](?:ssl)?password=)[^&\s]*`)
)

// RedactDSN masks the password of a Postgres connection string, in URL form
// (postgres://user:secret@host/db?password=…) or key=value form (host=h password=secret).
func RedactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	if isURLDSN(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return RedactText(dsn)
		}
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), redacted)
			}
		}
		q := u.Query()
		changed := false
		for k := range q {
			if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
				q[k] = []string{redacted}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}="+redacted)
}

// RedactText masks DSN passwords found anywhere in free text (URL userinfo, password query
// parameters and password=… pairs).
func RedactText(text string) string {
	text = urlUserinfo.ReplaceAllString(text, "${1}:"+redacted+"@")
	text = urlQueryPassword.ReplaceAllString(text, "${1}"+redacted)
	return kvPassword.ReplaceAllString(text, "${1}="+redacted)
}

// AgentURL is the DSN of agent's role: RuntimeURL (host, port, database, TLS settings) with
// the agent's role (boundary.AgentRoleName) and its password (AgentPasswords) as user and
// password. The password must be set: export the variable named by the agent's password_env.
func (s Settings) AgentURL(agent string) (string, error) {
	if s.RuntimeURL == "" {
		return "", ErrNoRuntimeURL
	}
	pw := s.AgentPasswords[agent]
	if pw == "" {
		return "", fmt.Errorf("agent %s: no password for its role: set the variable named by its password_env (default %s) in .env or the environment", agent, boundary.DefaultAgentPasswordEnv(agent))
	}
	role := boundary.AgentRoleName(boundary.Names{RuntimeRole: s.RuntimeRole}, agent)
	if isURLDSN(s.RuntimeURL) {
		u, err := url.Parse(s.RuntimeURL)
		if err != nil {
			return "", fmt.Errorf("%s is not a valid connection string (%s)", EnvRuntimeURL, RedactDSN(s.RuntimeURL))
		}
		u.User = url.UserPassword(role, pw)
		q := u.Query()
		if q.Has("user") || q.Has("password") {
			q.Del("user")
			q.Del("password")
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	}
	// key=value form: later keys win.
	return s.RuntimeURL + " user=" + kvQuote(role) + " password=" + kvQuote(pw), nil
}

// kvQuote quotes a value for a key=value DSN.
func kvQuote(v string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", `\'`) + "'"
}
