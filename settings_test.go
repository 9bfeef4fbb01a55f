package agentmv

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func envFunc(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeDotenv(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveSettingsPrecedence(t *testing.T) {
	defaults := Settings{RuntimePassword: "agent_mv_runtime", TargetSchema: "agent_mv", RuntimeRole: "agent_mv_runtime", OwnerRole: "agent_mv_owner"}
	cfg := &Config{TargetSchema: "yaml_schema"}
	full := func(prefix string) map[string]string {
		return map[string]string{
			EnvDatabaseURL: "postgres://" + prefix + "@h/db", EnvRuntimeURL: "postgres://" + prefix + "_rt@h/db",
			EnvRuntimePassword: prefix + "_pw", EnvTargetSchema: prefix + "_schema",
			EnvRuntimeRole: prefix + "_runtime", EnvOwnerRole: prefix + "_owner",
		}
	}
	fromMap := func(m map[string]string) Settings {
		return Settings{DatabaseURL: m[EnvDatabaseURL], RuntimeURL: m[EnvRuntimeURL], RuntimePassword: m[EnvRuntimePassword],
			TargetSchema: m[EnvTargetSchema], RuntimeRole: m[EnvRuntimeRole], OwnerRole: m[EnvOwnerRole]}
	}
	dotenvBody := func(m map[string]string) string {
		var b strings.Builder
		for k, v := range m {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
		return b.String()
	}
	tests := []struct {
		name   string
		flags  Settings
		cfg    *Config
		dotenv map[string]string
		env    map[string]string
		want   Settings
	}{
		{name: "defaults", want: defaults},
		{name: "yaml over default", cfg: cfg, want: Settings{RuntimePassword: "agent_mv_runtime", TargetSchema: "yaml_schema", RuntimeRole: "agent_mv_runtime", OwnerRole: "agent_mv_owner"}},
		{name: "dotenv over yaml", cfg: cfg, dotenv: full("dot"), want: fromMap(full("dot"))},
		{name: "env over dotenv", cfg: cfg, dotenv: full("dot"), env: full("env"), want: fromMap(full("env"))},
		{name: "flags over env", cfg: cfg, dotenv: full("dot"), env: full("env"), flags: fromMap(full("flag")), want: fromMap(full("flag"))},
		{name: "empty env value counts as unset", cfg: cfg, dotenv: map[string]string{EnvTargetSchema: "dot_schema"}, env: map[string]string{EnvTargetSchema: ""},
			want: Settings{RuntimePassword: "agent_mv_runtime", TargetSchema: "dot_schema", RuntimeRole: "agent_mv_runtime", OwnerRole: "agent_mv_owner"}},
		{name: "mixed sources", cfg: cfg, dotenv: map[string]string{EnvDatabaseURL: "postgres://dot@h/db", EnvRuntimeURL: "postgres://dotrt@h/db"},
			env: map[string]string{EnvRuntimeURL: "postgres://envrt@h/db"}, flags: Settings{TargetSchema: "flag_schema"},
			want: Settings{DatabaseURL: "postgres://dot@h/db", RuntimeURL: "postgres://envrt@h/db", RuntimePassword: "agent_mv_runtime", TargetSchema: "flag_schema", RuntimeRole: "agent_mv_runtime", OwnerRole: "agent_mv_owner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dotenvPath := ""
			if tt.dotenv != nil {
				dotenvPath = writeDotenv(t, dotenvBody(tt.dotenv))
			}
			got, err := ResolveSettings(tt.flags, tt.cfg, dotenvPath, envFunc(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveSettingsDotenv(t *testing.T) {
	t.Run("missing file is fine", func(t *testing.T) {
		s, err := ResolveSettings(Settings{}, nil, filepath.Join(t.TempDir(), ".env"), envFunc(nil))
		if err != nil || s.TargetSchema != "agent_mv" {
			t.Fatalf("got %v, %v", s, err)
		}
	})
	t.Run("bad file is an error", func(t *testing.T) {
		p := writeDotenv(t, "DATABASE_URL='unterminated\n")
		_, err := ResolveSettings(Settings{}, nil, p, envFunc(nil))
		if err == nil || !strings.HasPrefix(err.Error(), "read "+p+": ") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("process environment untouched", func(t *testing.T) {
		const key = "AGENT_MV_OWNER_ROLE"
		t.Setenv(key, "") // restores the original value at cleanup
		os.Unsetenv(key)
		p := writeDotenv(t, "export AGENT_MV_OWNER_ROLE=\"dot_owner\" # comment\n")
		s, err := ResolveSettings(Settings{}, nil, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.OwnerRole != "dot_owner" {
			t.Errorf("OwnerRole = %q, want dot_owner", s.OwnerRole)
		}
		if _, set := os.LookupEnv(key); set {
			t.Errorf("ResolveSettings set %s in the process environment", key)
		}
	})
}

func TestSettingsValidate(t *testing.T) {
	base := Settings{TargetSchema: "agent_mv", RuntimeRole: "r", OwnerRole: "o"}
	tests := []struct {
		name string
		mod  func(*Settings)
		want string
	}{
		{"bad schema", func(s *Settings) { s.TargetSchema = "Agent" },
			`invalid settings: target_schema "Agent" must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits and _, not starting with a digit) (set AGENT_MV_TARGET_SCHEMA or target_schema)`},
		{"pg_ schema", func(s *Settings) { s.TargetSchema = "pg_x" },
			`invalid settings: target_schema "pg_x" is not allowed: use a dedicated schema such as agent_mv (pg_* schemas are reserved by Postgres) (set AGENT_MV_TARGET_SCHEMA or target_schema)`},
		{"long schema", func(s *Settings) { s.TargetSchema = strings.Repeat("s", 64) },
			`invalid settings: target_schema "` + strings.Repeat("s", 64) + `" is 64 bytes; Postgres identifiers are at most 63 bytes (it would silently truncate it), use a shorter name (set AGENT_MV_TARGET_SCHEMA or target_schema)`},
		{"bad runtime role", func(s *Settings) { s.RuntimeRole = "run-time" },
			`invalid settings: runtime role "run-time" must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits and _, not starting with a digit) (set AGENT_MV_RUNTIME_ROLE)`},
		{"empty owner role", func(s *Settings) { s.OwnerRole = "" },
			`invalid settings: owner role must not be empty (set AGENT_MV_OWNER_ROLE)`},
		{"pg_ role", func(s *Settings) { s.OwnerRole = "pg_owner" },
			`invalid settings: owner role "pg_owner" is reserved by Postgres (pg_* roles and PUBLIC); choose another name (set AGENT_MV_OWNER_ROLE)`},
		{"same roles", func(s *Settings) { s.OwnerRole = "r" },
			`invalid settings: the runtime role and the owner role are both "r"; they must differ or the boundary is gone (set AGENT_MV_RUNTIME_ROLE or AGENT_MV_OWNER_ROLE)`},
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("base settings invalid: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.mod(&s)
			err := s.Validate()
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
			// ResolveSettings runs the same checks on what it resolved.
			if _, err := ResolveSettings(s, nil, "", envFunc(nil)); err == nil && s.OwnerRole != "" {
				t.Errorf("ResolveSettings accepted %v", s)
			}
		})
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"postgres://alice:s3cret@db.example:5432/app?sslmode=require", "postgres://alice:xxxxx@db.example:5432/app?sslmode=require"},
		{"postgresql://alice:p%40ss@h/db", "postgresql://alice:xxxxx@h/db"},
		{"postgres://alice@h/db", "postgres://alice@h/db"},
		{"postgres://h/db?user=alice&password=s3cret", "postgres://h/db?password=xxxxx&user=alice"},
		{"postgres://h/db?sslpassword=s3cret", "postgres://h/db?sslpassword=xxxxx"},
		{"host=h user=alice password=s3cret dbname=app", "host=h user=alice password=xxxxx dbname=app"},
		{"host=h password='s3 cret' dbname=app", "host=h password=xxxxx dbname=app"},
		{"host=h password = s3cret", "host=h password=xxxxx"},
		{"postgres://alice:s3cret@h:bad port/db", "postgres://alice:xxxxx@h:bad port/db"},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.in); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(RedactDSN(tt.in), "s3cret") || strings.Contains(RedactDSN(tt.in), "s3 cret") {
			t.Errorf("RedactDSN(%q) leaks the password", tt.in)
		}
	}
}

func TestRedactText(t *testing.T) {
	in := "failed to connect to postgres://alice:s3cret@h/db (also postgresql://bob:hunter22@x/y?password=qq ) with password=abc and sslpassword='x y'"
	want := "failed to connect to postgres://alice:xxxxx@h/db (also postgresql://bob:xxxxx@x/y?password=xxxxx ) with password=xxxxx and sslpassword=xxxxx"
	if got := RedactText(in); got != want {
		t.Errorf("RedactText:\n got %s\nwant %s", got, want)
	}
}

func TestSettingsNeverPrintSecrets(t *testing.T) {
	s := Settings{
		DatabaseURL:     "postgres://admin:adminpw@h/db",
		RuntimeURL:      "host=h user=agent_mv_runtime password=runtimepw",
		RuntimePassword: "runtimepw",
		TargetSchema:    "agent_mv", RuntimeRole: "agent_mv_runtime", OwnerRole: "agent_mv_owner",
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("settings", "s", s)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("settings", "s", s)
	outputs := map[string]string{
		"String": s.String(), "%v": fmt.Sprintf("%v", s), "%+v": fmt.Sprintf("%+v", s), "%#v": fmt.Sprintf("%#v", s),
		"slog": logged.String(),
		"Redact": s.Redact("login failed for postgres://admin:adminpw@h/db; runtime password runtimepw rejected; " +
			"url-encoded p%40ss"),
	}
	for name, out := range outputs {
		for _, secret := range []string{"adminpw", "runtimepw"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s leaks %q: %s", name, secret, out)
			}
		}
	}
	want := "Settings{DatabaseURL: postgres://admin:xxxxx@h/db, RuntimeURL: host=h user=agent_mv_runtime password=xxxxx, RuntimePassword: xxxxx, TargetSchema: agent_mv, RuntimeRole: agent_mv_runtime, OwnerRole: agent_mv_owner}"
	if s.String() != want {
		t.Errorf("String() = %s\nwant %s", s, want)
	}
	if !strings.Contains(logged.String(), `"database_url":"postgres://admin:xxxxx@h/db"`) {
		t.Errorf("slog JSON output lacks the redacted DSN: %s", logged.String())
	}
	enc := Settings{DatabaseURL: "postgres://admin:p%40ss@h/db"}
	if got := enc.Redact("dsn postgres://admin:p%40ss@h/db and raw p@ss"); strings.Contains(got, "p@ss") || strings.Contains(got, "p%40ss") {
		t.Errorf("Redact leaks an encoded password: %s", got)
	}
}

func TestResolveSettingsReplicaURLs(t *testing.T) {
	const (
		one = "postgres://rt:pw1@replica1:5432/db"
		two = "postgres://rt:pw2@replica2:5432/db?sslmode=require"
	)
	tests := []struct {
		name   string
		flags  []string
		dotenv string
		env    map[string]string
		want   []string
	}{
		{name: "unset", want: nil},
		{name: "one from env", env: map[string]string{EnvRuntimeReplicaURL: one}, want: []string{one}},
		{name: "list with blanks", env: map[string]string{EnvRuntimeReplicaURL: " " + one + " ,, " + two + ","}, want: []string{one, two}},
		{name: "dotenv when env unset", dotenv: EnvRuntimeReplicaURL + "=" + two + "\n", want: []string{two}},
		{name: "env over dotenv", dotenv: EnvRuntimeReplicaURL + "=" + two + "\n", env: map[string]string{EnvRuntimeReplicaURL: one}, want: []string{one}},
		{name: "empty env counts as unset", dotenv: EnvRuntimeReplicaURL + "=" + two + "\n", env: map[string]string{EnvRuntimeReplicaURL: ""}, want: []string{two}},
		{name: "flags over env", flags: []string{two + "," + one}, env: map[string]string{EnvRuntimeReplicaURL: one}, want: []string{two, one}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dotenvPath := ""
			if tt.dotenv != "" {
				dotenvPath = writeDotenv(t, tt.dotenv)
			}
			got, err := ResolveSettings(Settings{RuntimeReplicaURLs: tt.flags}, nil, dotenvPath, envFunc(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.RuntimeReplicaURLs); diff != "" {
				t.Errorf("RuntimeReplicaURLs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettingsNeverPrintReplicaSecrets(t *testing.T) {
	s := Settings{TargetSchema: "agent_mv", RuntimeRole: "r", OwnerRole: "o",
		RuntimeReplicaURLs: []string{"postgres://rt:replicapw1@r1/db", "host=r2 user=rt password=replicapw2"}}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("settings", "s", s)
	outputs := map[string]string{"String": s.String(), "%#v": fmt.Sprintf("%#v", s), "slog": logged.String(),
		"Redact": s.Redact("replica login failed: replicapw1 / replicapw2")}
	for name, out := range outputs {
		for _, secret := range []string{"replicapw1", "replicapw2"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s leaks %q: %s", name, secret, out)
			}
		}
	}
	want := "RuntimeReplicaURLs: [postgres://rt:xxxxx@r1/db host=r2 user=rt password=xxxxx]}"
	if !strings.HasSuffix(s.String(), want) {
		t.Errorf("String() = %s\nwant suffix %s", s, want)
	}
	if !strings.Contains(logged.String(), `"runtime_replica_urls":["postgres://rt:xxxxx@r1/db","host=r2 user=rt password=xxxxx"]`) {
		t.Errorf("slog JSON lacks the redacted replica DSNs: %s", logged.String())
	}
}
