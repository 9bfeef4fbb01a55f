package boundary

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Agents. Each agent of materialize.yaml gets a LOGIN role of its own, <R>_<agent>, that may
// read exactly its views and the metadata rows about them, and refresh only them:
//
//   - USAGE on <S>, SELECT on its views and on the metadata tables, EXECUTE on
//     <S>.refresh_view(text); nothing else (SyncAgents grants what is missing and revokes any
//     other privilege it holds on an object of <S>).
//   - The metadata tables (<S>.views, lineage, column_lineage, refresh_history) have row-level
//     security: a row about a view is visible to a role only when that role may SELECT the view
//     (the "readable_view" rule below), and a lineage row also hides a source that is another
//     managed view the role cannot read. The rule is the grant itself, so there is no second
//     list to keep in step; the runtime role, which reads every managed view, sees every row
//     about an existing view. The owner role (and members that inherit it, the admin) bypass it.
//   - refresh_view refuses a view the calling login role (session_user) cannot SELECT with the
//     same error as an unknown name (42704), so the name of another agent's view is never
//     confirmed.
//
// Postgres enforces all of it: a leaked agent DSN in psql reads that agent's views and the
// rows about them, nothing else. It still sees the catalogs (pg_class, pg_matviews), which
// every role may read: other views' names and definitions, never their rows. CONTRACTS.md says
// why separate login roles and not one authenticator role that SETs ROLE per request.

// AgentRoleName is the role of agent name: <runtime role>_<name>.
func AgentRoleName(n Names, agent string) string { return n.RuntimeRole + "_" + agent }

// ValidateAgentName checks an agent's name and the role name it makes with n's runtime role.
func ValidateAgentName(n Names, agent string) error {
	if err := ValidateIdentifier("agent name", agent); err != nil {
		return err
	}
	if err := ValidateRoleName("agent role", AgentRoleName(n, agent)); err != nil {
		return fmt.Errorf("agent %s: %w (shorten the agent's name or the runtime role's)", agent, err)
	}
	return nil
}

// readableViewRule is the row filter of the metadata tables: %[1]s is the column holding the
// view's name. True when the current role may SELECT the managed view of that name (a
// materialized view, or the table of an incremental view).
//
// It is a scalar subquery, one index probe of pg_class (relname, relnamespace) per row read:
// (relname, relnamespace) is unique, so "the privilege on the relation of that name" is the
// EXISTS it replaces (migration 13), which the planner ran as a hashed subplan scanning all of
// pg_class on every statement (every query_view reads the status mark through this filter).
const readableViewRule = `coalesce((SELECT pg_catalog.has_table_privilege(c.oid, 'SELECT') FROM pg_catalog.pg_class c
  WHERE c.relname = %[1]s AND c.relkind IN ('m', 'r')
    AND c.relnamespace = (SELECT ns.oid FROM pg_catalog.pg_namespace ns WHERE ns.nspname = {{.SchemaLiteral}})), false)`

// notOtherViewRule: %[1]s does not name a managed view the current role cannot SELECT (a
// source that is a base table, or a view it may read). One index probe, as readableViewRule.
const notOtherViewRule = `NOT coalesce((SELECT NOT pg_catalog.has_table_privilege(c.oid, 'SELECT') FROM pg_catalog.pg_class c
  WHERE c.relname = %[1]s AND c.relkind IN ('m', 'r')
    AND c.relnamespace = (SELECT ns.oid FROM pg_catalog.pg_namespace ns WHERE ns.nspname = {{.SchemaLiteral}})), false)`

// MetadataPolicy is the name of the row-level security policy on each metadata table.
const MetadataPolicy = "agentmv_readable_views"

// metadataPolicies are each metadata table's row filter (USING clause).
func metadataPolicies() map[string]string {
	about := func(col string) string { return fmt.Sprintf(readableViewRule, col) }
	other := func(col string) string { return fmt.Sprintf(notOtherViewRule, col) }
	return map[string]string{
		TableViews:          about("name"),
		TableRefreshHistory: about("view_name"),
		TableLineage:        about("view_name") + " AND (source_kind <> 'view' OR " + other("source_name") + ")",
		TableColumnLineage:  about("view_name") + " AND (source_schema <> {{.SchemaLiteral}} OR " + other("source_relation") + ")",
	}
}

// agentsMigration is the migration step's SQL: the agent_roles table, row-level security on
// the metadata tables, and the refresh function that checks the caller's privilege.
func agentsMigration() []sqlText {
	texts := []string{`CREATE TABLE IF NOT EXISTS {{.AgentRoles}} (
    name text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND octet_length(name) <= 63),
    role text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    applied_at timestamptz NOT NULL DEFAULT now()
)`}
	policies := metadataPolicies()
	for _, t := range slices.Sorted(maps.Keys(policies)) {
		rel := fmt.Sprintf("{{.Rel %q}}", t)
		texts = append(texts,
			"ALTER TABLE "+rel+" ENABLE ROW LEVEL SECURITY",
			"DROP POLICY IF EXISTS "+MetadataPolicy+" ON "+rel,
			"CREATE POLICY "+MetadataPolicy+" ON "+rel+" FOR SELECT USING ("+policies[t]+")")
	}
	return append(sqlTexts("agents", texts...), refreshFunctionSQL)
}

// Agent is one agent of materialize.yaml, as SyncAgents gives it a role.
type Agent struct {
	Name        string
	Description string
	// Views are the managed views it may read and refresh.
	Views []string
	// Password is set on its role when SyncAgents creates it (or rotates passwords); an
	// existing role keeps its password otherwise, like the runtime role.
	Password string
}

// AgentChanges says what SyncAgents changed.
type AgentChanges struct {
	CreatedRoles []string `json:"created_roles,omitempty"`
	DroppedRoles []string `json:"dropped_roles,omitempty"`
	// Changes are human-readable notes (grants, revokes, rotated passwords), for the CLI.
	Changes []string `json:"changes,omitempty"`
}

// SyncAgentsOptions tune SyncAgents.
type SyncAgentsOptions struct {
	// RotatePasswords sets each agent role's password even when the role exists.
	RotatePasswords bool
	// Limits are set on each agent's role as on the runtime role (SetRoleLimits): connection
	// limit, statement and idle-in-transaction timeouts, read-only sessions by default.
	Limits RoleLimits
}

var (
	readAgentRolesSQL  = mustSQL("read_agent_roles", `SELECT name, role FROM {{.AgentRoles}} ORDER BY name`)
	upsertAgentRoleSQL = mustSQL("upsert_agent_role", `
INSERT INTO {{.AgentRoles}} AS a (name, role, description) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, description = EXCLUDED.description, applied_at = now()
 WHERE (a.role, a.description) IS DISTINCT FROM (EXCLUDED.role, EXCLUDED.description)`)
	deleteAgentRoleSQL  = mustSQL("delete_agent_role", `DELETE FROM {{.AgentRoles}} WHERE name = $1`)
	createAgentRoleSQL  = mustSQL("create_agent_role", `CREATE ROLE {{.Arg 0}} LOGIN NOINHERIT PASSWORD {{.LitArg 1}}`)
	agentPasswordSQL    = mustSQL("agent_password", `ALTER ROLE {{.Arg 0}} PASSWORD {{.LitArg 1}}`)
	agentLoginSQL       = mustSQL("agent_login", `ALTER ROLE {{.Arg 0}} LOGIN`)
	agentNoLoginSQL     = mustSQL("agent_nologin", `ALTER ROLE {{.Arg 0}} NOLOGIN`)
	dropAgentRoleSQL    = mustSQL("drop_agent_role", `DROP ROLE {{.Arg 0}}`)
	grantAgentUsageSQL  = mustSQL("grant_agent_usage", `GRANT USAGE ON SCHEMA {{.S}} TO {{.Arg 0}}`)
	revokeAgentUsageSQL = mustSQL("revoke_agent_usage", `REVOKE ALL ON SCHEMA {{.S}} FROM {{.Arg 0}}`)
	grantAgentExecSQL   = mustSQL("grant_agent_execute", `GRANT EXECUTE ON FUNCTION {{.Function}}(text) TO {{.Arg 0}}`)
	revokeAgentExecSQL  = mustSQL("revoke_agent_execute", `REVOKE ALL ON FUNCTION {{.Function}}(text) FROM {{.Arg 0}}`)
	grantAgentSelectSQL = mustSQL("grant_agent_select", `GRANT SELECT ON {{.Rel (index .Args 0)}} TO {{.Arg 1}}`)
	revokeAgentRelSQL   = mustSQL("revoke_agent_relation", `REVOKE ALL ON {{.Rel (index .Args 0)}} FROM {{.Arg 1}}`)
	// agentPrivilegesSQL: what role $2 holds directly in schema $1: 'rel' rows (relation,
	// privilege), a 'schema' row for USAGE/CREATE on the schema, 'function' rows for privileges
	// on the refresh function ($3, its signature). Privileges through PUBLIC or memberships are
	// the doctor's business.
	agentPrivilegesSQL = mustSQL("agent_privileges", `
WITH r AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2),
     s AS (SELECT oid, nspacl FROM pg_catalog.pg_namespace WHERE nspname = $1)
SELECT 'rel', c.relname::text, a.privilege_type
  FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
 WHERE c.relnamespace = (SELECT oid FROM s) AND a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'schema', '', a.privilege_type FROM s, pg_catalog.aclexplode(s.nspacl) a WHERE a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'function', '', a.privilege_type
  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
 WHERE p.oid = pg_catalog.to_regprocedure($3) AND a.grantee = (SELECT oid FROM r)`)
)

// SyncAgents makes the agents' roles match agents, inside apply's transaction tx (after the
// views exist): it creates each missing role (LOGIN NOINHERIT, password as a SCRAM verifier),
// gives it the runtime role's limits (SyncAgentsOptions.Limits, as SetRoleLimits), records
// it in <S>.agent_roles, grants USAGE on <S>, SELECT on the agent's views and the
// metadata tables and EXECUTE on the refresh function, and revokes every other privilege the
// role holds on <S> or its objects. Roles of agents no longer listed lose their privileges
// in <S> and are dropped (or, when they still hold privileges elsewhere, made NOLOGIN). An
// existing role named like an agent's role is adopted, like the runtime role. It is
// idempotent: a second run changes nothing.
func SyncAgents(ctx context.Context, tx pgx.Tx, n Names, agents []Agent, opts SyncAgentsOptions) (AgentChanges, error) {
	var ch AgentChanges
	if err := n.Validate(); err != nil {
		return ch, err
	}
	want := map[string]Agent{}
	for _, a := range agents {
		if err := ValidateAgentName(n, a.Name); err != nil {
			return ch, err
		}
		if _, dup := want[a.Name]; dup {
			return ch, fmt.Errorf("agent %s is listed twice", a.Name)
		}
		for _, v := range a.Views {
			if err := ValidateIdentifier("view name", v); err != nil {
				return ch, fmt.Errorf("agent %s: %w", a.Name, err)
			}
		}
		want[a.Name] = a
	}
	rows, err := tx.Query(ctx, readAgentRolesSQL.render(n))
	if err != nil {
		return ch, fmt.Errorf("read %s.%s: %w", n.Schema, TableAgentRoles, err)
	}
	recorded := map[string]string{} // agent name -> role
	var name, role string
	if _, err := pgx.ForEachRow(rows, []any{&name, &role}, func() error { recorded[name] = role; return nil }); err != nil {
		return ch, fmt.Errorf("read %s.%s: %w", n.Schema, TableAgentRoles, err)
	}

	for _, a := range agents {
		role := AgentRoleName(n, a.Name)
		if err := ensureAgentRole(ctx, tx, n, a, role, opts, &ch); err != nil {
			return ch, err
		}
		changes, err := setRoleLimits(ctx, tx, "agent role", role, opts.Limits)
		if err != nil {
			return ch, fmt.Errorf("agent %s: %w", a.Name, err)
		}
		if !slices.Contains(ch.CreatedRoles, role) { // a new role's limits are part of creating it
			ch.Changes = append(ch.Changes, changes...)
		}
	}
	for _, a := range agents {
		role := AgentRoleName(n, a.Name)
		err := asOwner(ctx, tx, n, func() error {
			if err := exec(ctx, tx, "record agent "+a.Name, upsertAgentRoleSQL.render(n), a.Name, role, a.Description); err != nil {
				return err
			}
			return grantAgent(ctx, tx, n, role, a.Views, &ch)
		})
		if err != nil {
			return ch, fmt.Errorf("agent %s: %w", a.Name, err)
		}
	}
	for _, old := range slices.Sorted(maps.Keys(recorded)) {
		if _, ok := want[old]; ok {
			continue
		}
		if err := removeAgent(ctx, tx, n, old, recorded[old], &ch); err != nil {
			return ch, err
		}
	}
	return ch, nil
}

// ensureAgentRole creates the agent's role, or gives an existing one LOGIN and (when asked)
// a new password.
func ensureAgentRole(ctx context.Context, tx pgx.Tx, n Names, a Agent, role string, opts SyncAgentsOptions, ch *AgentChanges) error {
	var exists, canLogin bool
	err := tx.QueryRow(ctx, `SELECT true, rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1`, role).Scan(&exists, &canLogin)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	if !exists || (opts.RotatePasswords && a.Password != "") {
		if a.Password == "" {
			return fmt.Errorf("agent %s: its role %s does not exist yet and no password was given for it: set the variable named by the agent's password_env (default %s) and run apply again",
				a.Name, role, DefaultAgentPasswordEnv(a.Name))
		}
		verifier, err := ScramVerifier(a.Password)
		if err != nil {
			return err
		}
		if err := checkVerifier(verifier); err != nil {
			return err
		}
		if !exists {
			if err := exec(ctx, tx, "create role "+role+" for agent "+a.Name, createAgentRoleSQL.render(n, role, verifier)); err != nil {
				return fmt.Errorf("%w (the admin needs CREATEROLE)", err)
			}
			ch.CreatedRoles = append(ch.CreatedRoles, role)
			return nil
		}
		if err := exec(ctx, tx, "set password of "+role, agentPasswordSQL.render(n, role, verifier)); err != nil {
			return err
		}
		ch.Changes = append(ch.Changes, "rotated the password of role "+role)
	}
	if !canLogin {
		if err := exec(ctx, tx, "allow "+role+" to log in", agentLoginSQL.render(n, role)); err != nil {
			return err
		}
		ch.Changes = append(ch.Changes, "gave role "+role+" LOGIN")
	}
	return nil
}

// DefaultAgentPasswordEnv is the variable holding agent's role password when its entry in
// materialize.yaml names none: AGENT_MV_AGENT_<NAME>_PASSWORD.
func DefaultAgentPasswordEnv(agent string) string {
	return "AGENT_MV_AGENT_" + strings.ToUpper(agent) + "_PASSWORD"
}

// agentPrivileges reads what role holds directly in <S>.
type agentPrivileges struct {
	rels     map[string][]string // relation -> privileges
	schema   []string
	function []string
}

func readAgentPrivileges(ctx context.Context, q Reader, n Names, role string) (agentPrivileges, error) {
	p := agentPrivileges{rels: map[string][]string{}}
	rows, err := q.Query(ctx, agentPrivilegesSQL.render(n), n.Schema, role, n.function())
	if err != nil {
		return p, fmt.Errorf("read privileges of %s: %w", role, err)
	}
	var kind, rel, priv string
	_, err = pgx.ForEachRow(rows, []any{&kind, &rel, &priv}, func() error {
		switch kind {
		case "rel":
			p.rels[rel] = append(p.rels[rel], priv)
		case "schema":
			p.schema = append(p.schema, priv)
		default:
			p.function = append(p.function, priv)
		}
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("read privileges of %s: %w", role, err)
	}
	return p, nil
}

// grantAgent gives role exactly: USAGE on <S>, SELECT on views and the metadata tables,
// EXECUTE on the refresh function. Runs as <O>, which owns all of them.
func grantAgent(ctx context.Context, tx pgx.Tx, n Names, role string, views []string, ch *AgentChanges) error {
	have, err := readAgentPrivileges(ctx, tx, n, role)
	if err != nil {
		return err
	}
	if !slices.Equal(have.schema, []string{"USAGE"}) {
		if len(have.schema) > 0 {
			if err := exec(ctx, tx, "revoke privileges on schema from "+role, revokeAgentUsageSQL.render(n, role)); err != nil {
				return err
			}
		}
		if err := exec(ctx, tx, "grant USAGE on schema to "+role, grantAgentUsageSQL.render(n, role)); err != nil {
			return err
		}
		ch.Changes = append(ch.Changes, fmt.Sprintf("granted USAGE on schema %s to %s", n.Schema, role))
	}
	if !slices.Equal(have.function, []string{"EXECUTE"}) {
		if len(have.function) > 0 {
			if err := exec(ctx, tx, "revoke privileges on function from "+role, revokeAgentExecSQL.render(n, role)); err != nil {
				return err
			}
		}
		if err := exec(ctx, tx, "grant EXECUTE to "+role, grantAgentExecSQL.render(n, role)); err != nil {
			return err
		}
		ch.Changes = append(ch.Changes, fmt.Sprintf("granted EXECUTE on %s.%s to %s", n.Schema, FunctionRefreshView, role))
	}
	readable := append(MetadataTables(), views...)
	for _, rel := range slices.Sorted(maps.Keys(have.rels)) {
		if slices.Contains(readable, rel) && slices.Equal(have.rels[rel], []string{"SELECT"}) {
			continue
		}
		if err := exec(ctx, tx, "revoke privileges on "+rel+" from "+role, revokeAgentRelSQL.render(n, rel, role)); err != nil {
			return err
		}
		ch.Changes = append(ch.Changes, fmt.Sprintf("revoked %s on %s.%s from %s", strings.Join(have.rels[rel], ", "), n.Schema, rel, role))
		delete(have.rels, rel)
	}
	for _, rel := range readable {
		if _, ok := have.rels[rel]; ok {
			continue
		}
		if err := exec(ctx, tx, "grant SELECT on "+rel+" to "+role, grantAgentSelectSQL.render(n, rel, role)); err != nil {
			return err
		}
		if !slices.Contains(MetadataTables(), rel) {
			ch.Changes = append(ch.Changes, fmt.Sprintf("granted SELECT on %s.%s to %s", n.Schema, rel, role))
		}
	}
	return nil
}

// removeAgent takes every privilege in <S> from the role of an agent no longer configured,
// forgets it, and drops the role; a role that still holds privileges elsewhere (another
// database, another schema) cannot be dropped and is made NOLOGIN instead.
func removeAgent(ctx context.Context, tx pgx.Tx, n Names, agent, role string, ch *AgentChanges) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	err := asOwner(ctx, tx, n, func() error {
		if exists {
			have, err := readAgentPrivileges(ctx, tx, n, role)
			if err != nil {
				return err
			}
			for _, rel := range slices.Sorted(maps.Keys(have.rels)) {
				if err := exec(ctx, tx, "revoke privileges on "+rel+" from "+role, revokeAgentRelSQL.render(n, rel, role)); err != nil {
					return err
				}
			}
			if len(have.schema) > 0 {
				if err := exec(ctx, tx, "revoke privileges on schema from "+role, revokeAgentUsageSQL.render(n, role)); err != nil {
					return err
				}
			}
			if len(have.function) > 0 {
				if err := exec(ctx, tx, "revoke privileges on function from "+role, revokeAgentExecSQL.render(n, role)); err != nil {
					return err
				}
			}
		}
		return exec(ctx, tx, "forget agent "+agent, deleteAgentRoleSQL.render(n), agent)
	})
	if err != nil {
		return fmt.Errorf("remove agent %s: %w", agent, err)
	}
	if !exists {
		ch.Changes = append(ch.Changes, fmt.Sprintf("forgot agent %s (its role %s was already gone)", agent, role))
		return nil
	}
	sp, err := tx.Begin(ctx) // a savepoint: DROP ROLE fails while the role holds privileges elsewhere
	if err != nil {
		return fmt.Errorf("remove agent %s: %w", agent, err)
	}
	if _, err := sp.Exec(ctx, dropAgentRoleSQL.render(n, role)); err == nil {
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("remove agent %s: %w", agent, err)
		}
		ch.DroppedRoles = append(ch.DroppedRoles, role)
		return nil
	} else {
		_ = sp.Rollback(ctx)
		if err := exec(ctx, tx, "make "+role+" NOLOGIN", agentNoLoginSQL.render(n, role)); err != nil {
			return fmt.Errorf("remove agent %s: %w", agent, err)
		}
		ch.Changes = append(ch.Changes, fmt.Sprintf("agent %s removed: its role %s lost its privileges in %s and can no longer log in, but was not dropped (%v); drop it by hand when nothing else needs it",
			agent, role, n.Schema, err))
	}
	return nil
}
