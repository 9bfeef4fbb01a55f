package agentmv

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRoleLimitsConfig: runtime_role and public_privileges load into the Config, and every bad
// value is refused with the line and what to write instead.
func TestRoleLimitsConfig(t *testing.T) {
	const head = "version: 1\ntarget_schema: agent_mv\nviews: []\n"
	type parsed struct {
		Role     RuntimeRoleConfig
		Public   PublicPrivilegesConfig
		Warnings []string
	}
	valid := []struct {
		name, yaml string
		want       parsed
	}{
		{"absent", "", parsed{}},
		{"null mappings", "runtime_role:\npublic_privileges:\n", parsed{}},
		{"everything", `runtime_role:
  connection_limit: 5
  statement_timeout: 45s
  idle_in_transaction_session_timeout: 2m
  allow_security_definer:
    - public.current_tenant_id()
    - " app.lookup(integer, text) "
public_privileges:
  revoke_temporary: true
  revoke_create_on_public_schema: false
`, parsed{Role: RuntimeRoleConfig{ConnectionLimit: 5, StatementTimeout: 45 * time.Second, IdleInTransactionTimeout: 2 * time.Minute,
			AllowSecurityDefiner: []string{"public.current_tenant_id()", "app.lookup(integer, text)"}},
			Public: PublicPrivilegesConfig{RevokeTemporary: true}}},
		{"own x- keys", "runtime_role:\n  x-note: mine\npublic_privileges:\n  x-why: audit\n", parsed{}},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			path := writeProject(t, head+tc.yaml, nil)
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			got := parsed{Role: cfg.RuntimeRole, Public: cfg.PublicPrivileges}
			for _, w := range cfg.Warnings {
				got.Warnings = append(got.Warnings, strings.TrimPrefix(w, path+" "))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	invalid := []struct{ name, yaml, want string }{
		{"runtime_role not a mapping", "runtime_role: 5\n", "line 4: runtime_role must be a mapping (connection_limit, statement_timeout, idle_in_transaction_session_timeout, allow_security_definer), got int \"5\""},
		{"connection_limit zero", "runtime_role:\n  connection_limit: 0\n", "line 5: runtime_role.connection_limit must be a whole number from 1 to 262143 (connections the runtime role may open at once), got int \"0\""},
		{"connection_limit unlimited", "runtime_role:\n  connection_limit: -1\n", "runtime_role.connection_limit must be a whole number from 1 to 262143"},
		{"connection_limit string", "runtime_role:\n  connection_limit: \"10\"\n", "got str \"10\""},
		{"statement_timeout number", "runtime_role:\n  statement_timeout: 30\n", "line 5: runtime_role.statement_timeout must be a string, got int \"30\" (quote it if it looks like a number or boolean)"},
		{"statement_timeout zero", "runtime_role:\n  statement_timeout: 0s\n", "runtime_role.statement_timeout must be a positive Go duration such as \"90s\", \"5m\", \"1h30m\" or \"1d\", got \"0s\""},
		{"idle timeout sub-millisecond", "runtime_role:\n  idle_in_transaction_session_timeout: 1500us\n", "line 5: runtime_role.idle_in_transaction_session_timeout must be whole milliseconds between 1ms and about 24 days (Postgres's limit), got 1.5ms"},
		{"timeout too long", "runtime_role:\n  statement_timeout: 1000h\n", "runtime_role.statement_timeout must be whole milliseconds between 1ms and about 24 days"},
		{"allowlist not a list", "runtime_role:\n  allow_security_definer: public.f()\n", "line 5: runtime_role.allow_security_definer must be a list of functions such as \"public.current_tenant_id()\", got str \"public.f()\""},
		{"allowlist without schema", "runtime_role:\n  allow_security_definer: [f()]\n", "runtime_role.allow_security_definer entry \"f()\" must name one function with its schema and argument types"},
		{"allowlist without arguments", "runtime_role:\n  allow_security_definer: [public.f]\n", "entry \"public.f\" must name one function"},
		{"public_privileges not a mapping", "public_privileges: [revoke_temporary]\n", "line 4: public_privileges must be a mapping (revoke_temporary, revoke_create_on_public_schema), got a list"},
		{"unknown runtime_role key", "runtime_role:\n  connection_limt: 3\n", "line 5: unknown key \"connection_limt\" in runtime_role; did you mean \"connection_limit\"?"},
		{"unknown public_privileges key", "public_privileges:\n  revoke_connect: true\n", "line 5: unknown key \"revoke_connect\" in public_privileges; the keys there are revoke_temporary, revoke_create_on_public_schema"},
		{"revoke_temporary string", "public_privileges:\n  revoke_temporary: \"yes\"\n", "line 5: public_privileges.revoke_temporary must be true or false, got str \"yes\""},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			path := writeProject(t, head+tc.yaml, nil)
			_, err := LoadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}
