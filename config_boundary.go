package agentmv

import (
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/internal/yamledit"
)

// RuntimeRoleConfig is materialize.yaml's runtime_role mapping: limits that apply sets on the
// runtime role, so a session opened directly with the runtime DSN (psql, a script) starts with
// them too, and the SECURITY DEFINER functions the role may deliberately execute. Zero values
// mean agentmv's defaults (boundary.DefaultRoleLimits).
//
//	runtime_role:
//	  connection_limit: 20                    # CONNECTION LIMIT of the role
//	  statement_timeout: 30s                  # ALTER ROLE ... SET statement_timeout
//	  idle_in_transaction_session_timeout: 1m # ALTER ROLE ... SET idle_in_transaction_session_timeout
//	  allow_security_definer:                 # doctor accepts these SECURITY DEFINER functions
//	    - public.current_tenant_id()
type RuntimeRoleConfig struct {
	ConnectionLimit          int
	StatementTimeout         time.Duration
	IdleInTransactionTimeout time.Duration
	// AllowSecurityDefiner lists functions (as `schema.name(argument types)`, resolved by
	// Postgres like regprocedure) the runtime role may EXECUTE although they are SECURITY
	// DEFINER.
	AllowSecurityDefiner []string
}

// PublicPrivilegesConfig is materialize.yaml's public_privileges mapping: what apply may take
// away from PUBLIC, i.e. from every role of the database, not only the runtime role. Without
// it apply changes no other role's rights and doctor reports what stays open.
//
//	public_privileges:
//	  revoke_temporary: true               # REVOKE TEMPORARY ON DATABASE <db> FROM PUBLIC
//	  revoke_create_on_public_schema: true # REVOKE CREATE ON SCHEMA public FROM PUBLIC (granted before PostgreSQL 15)
type PublicPrivilegesConfig struct {
	RevokeTemporary            bool
	RevokeCreateOnPublicSchema bool
}

// Keys of the runtime_role and public_privileges mappings (see validate.go's key lists).
var (
	runtimeRoleKeys      = []string{"connection_limit", "statement_timeout", "idle_in_transaction_session_timeout", "allow_security_definer"}
	publicPrivilegesKeys = []string{"revoke_temporary", "revoke_create_on_public_schema"}
)

// maxConnectionLimit bounds runtime_role.connection_limit (Postgres's own max_connections cap).
const maxConnectionLimit = 262143

func (v *validator) runtimeRole(n *yaml.Node) {
	const where = "runtime_role"
	if !v.mapping(n, where, runtimeRoleKeys) {
		return
	}
	rc := &v.cfg.RuntimeRole
	for _, kv := range v.pairs(n, where) {
		k, val := kv[0], kv[1]
		switch k.Value {
		case "connection_limit":
			var limit int
			if val.Kind != yaml.ScalarNode || val.ShortTag() != "!!int" || val.Decode(&limit) != nil || limit < 1 || limit > maxConnectionLimit {
				v.bad(val.Line, "%s.connection_limit must be a whole number from 1 to %d (connections the runtime role may open at once), got %s", where, maxConnectionLimit, kindName(val))
				continue
			}
			rc.ConnectionLimit = limit
		case "statement_timeout":
			rc.StatementTimeout = v.timeout(val, where+".statement_timeout")
		case "idle_in_transaction_session_timeout":
			rc.IdleInTransactionTimeout = v.timeout(val, where+".idle_in_transaction_session_timeout")
		case "allow_security_definer":
			rc.AllowSecurityDefiner = v.functionList(val, where+".allow_security_definer")
		default:
			v.unknownKey(k, where, runtimeRoleKeys)
		}
	}
}

// timeout is a duration that Postgres keeps in whole milliseconds.
func (v *validator) timeout(n *yaml.Node, what string) time.Duration {
	d := v.duration(n, what)
	if d > 0 && (d < time.Millisecond || d%time.Millisecond != 0 || d.Milliseconds() > 1<<31-1) {
		v.bad(n.Line, "%s must be whole milliseconds between 1ms and about 24 days (Postgres's limit), got %s", what, d)
		return 0
	}
	return d
}

func (v *validator) functionList(n *yaml.Node, what string) []string {
	if yamledit.IsNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		v.bad(n.Line, "%s must be a list of functions such as \"public.current_tenant_id()\", got %s", what, kindName(n))
		return nil
	}
	var out []string
	for _, it := range n.Content {
		it = yamledit.Resolve(it)
		s, ok := v.str(it, what+" entry")
		if !ok {
			continue
		}
		s = strings.TrimSpace(s)
		open := strings.IndexByte(s, '(')
		if open <= 0 || !strings.HasSuffix(s, ")") || !strings.Contains(s[:open], ".") {
			v.bad(it.Line, "%s entry %q must name one function with its schema and argument types, e.g. \"public.current_tenant_id()\" or \"app.lookup(integer, text)\"", what, s)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (v *validator) publicPrivileges(n *yaml.Node) {
	const where = "public_privileges"
	if !v.mapping(n, where, publicPrivilegesKeys) {
		return
	}
	pp := &v.cfg.PublicPrivileges
	for _, kv := range v.pairs(n, where) {
		k, val := kv[0], kv[1]
		var dst *bool
		switch k.Value {
		case "revoke_temporary":
			dst = &pp.RevokeTemporary
		case "revoke_create_on_public_schema":
			dst = &pp.RevokeCreateOnPublicSchema
		default:
			v.unknownKey(k, where, publicPrivilegesKeys)
			continue
		}
		if val.Kind != yaml.ScalarNode || val.ShortTag() != "!!bool" {
			v.bad(val.Line, "%s.%s must be true or false, got %s", where, k.Value, kindName(val))
			continue
		}
		_ = val.Decode(dst)
	}
}
