package boundary

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The doctor's whole-database checks: everything besides relations by which the runtime role
// could reach data (exposure.go), its memberships, its limits, TEMPORARY, and sessions of it
// that hold what agentmv needs.

// predefinedRoles says what each predefined role lends a member (PostgreSQL 14–18; the
// version that added it in parentheses).
var predefinedRoles = map[string]string{
	"pg_read_all_data":            "reads every table, view and sequence",
	"pg_write_all_data":           "writes every table",
	"pg_read_server_files":        "reads any file the server can (COPY FROM, pg_read_file)",
	"pg_write_server_files":       "writes files on the server (COPY TO)",
	"pg_execute_server_program":   "runs programs on the server (COPY ... PROGRAM)",
	"pg_monitor":                  "sees every session's queries and all statistics",
	"pg_read_all_stats":           "sees every session's queries and all statistics",
	"pg_read_all_settings":        "reads every setting, superuser-only ones included",
	"pg_stat_scan_tables":         "runs monitoring functions that lock tables",
	"pg_signal_backend":           "cancels and terminates other roles' sessions",
	"pg_database_owner":           "owns the database: every privilege on it and on schema public",
	"pg_checkpoint":               "forces checkpoints (15+)",
	"pg_use_reserved_connections": "uses the connections reserved for administrators (16+)",
	"pg_create_subscription":      "creates subscriptions that connect anywhere (16+)",
	"pg_maintain":                 "VACUUM, ANALYZE, REFRESH MATERIALIZED VIEW, REINDEX, CLUSTER and LOCK TABLE on every relation (17+)",
	"pg_signal_autovacuum_worker": "cancels and terminates autovacuum workers (18+)",
}

// roleAttributes says what each attribute the runtime role must not have would let it do.
var roleAttributes = map[string]string{
	"SUPERUSER":   "it may do anything",
	"BYPASSRLS":   "row-level security policies do not apply to it",
	"CREATEROLE":  "it may create roles and, before PostgreSQL 16, grant itself any non-superuser role",
	"CREATEDB":    "it may create databases (and own everything in them)",
	"REPLICATION": "it may stream the whole cluster's WAL, i.e. read every change to every table",
}

// membershipsSQL: every role $1 is a member of, directly or not: whether directly, and else
// the direct memberships it comes through.
var membershipsSQL = mustSQL("runtime_memberships", `
SELECT r.rolname::text,
       EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m WHERE m.roleid = r.oid AND m.member = rt.oid),
       coalesce((SELECT array_agg(dr.rolname::text ORDER BY dr.rolname)
                   FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles dr ON dr.oid = m.roleid
                  WHERE m.member = rt.oid AND m.roleid <> r.oid AND pg_catalog.pg_has_role(m.roleid, r.oid, 'MEMBER')), '{}'),
       pg_catalog.current_database()::text
  FROM pg_catalog.pg_roles r, pg_catalog.pg_roles rt
 WHERE rt.rolname = $1 AND r.oid <> rt.oid AND pg_catalog.pg_has_role(rt.oid, r.oid, 'MEMBER')
 ORDER BY 1`)

// memberships: any role the runtime role belongs to (directly or not) lends it privileges or
// SET ROLE; predefined roles lend the server.
func (d doctor) memberships(ctx context.Context) {
	n := d.n
	rows, err := d.admin.Query(ctx, membershipsSQL.render(Names{}), n.RuntimeRole)
	if err != nil {
		d.errCheck("runtime memberships", err)
		return
	}
	var role, db string
	var direct bool
	var through, member, directOnes []string
	var findings []Finding
	_, err = pgx.ForEachRow(rows, []any{&role, &direct, &through, &db}, func() error {
		member = append(member, role)
		f := Finding{Object: "role " + role, Exposure: "a member: it may use the role's privileges (SET ROLE)"}
		if what, ok := predefinedRoles[role]; ok {
			f.Exposure = "a member of this predefined role, which " + what
		}
		if role == n.OwnerRole {
			f.Exposure = "a member of agentmv's owner role, which owns the views and reads their base tables"
		}
		switch {
		case role == "pg_database_owner" && !direct:
			f.Exposure = "the owner of database " + db + ": every privilege on it and on schema public"
			f.Fix = fmt.Sprintf("ALTER DATABASE %s OWNER TO CURRENT_USER", quote(db))
		case direct:
			directOnes = append(directOnes, role)
			f.Fix = fmt.Sprintf("REVOKE %s FROM %s", quote(role), quote(n.RuntimeRole))
		case len(through) > 0:
			f.Exposure += " (through " + strings.Join(through, ", ") + ")"
			f.Fix = fmt.Sprintf("REVOKE %s FROM %s", strings.Join(quoteAll(through), ", "), quote(n.RuntimeRole))
		default:
			f.Exposure += " (through the database's ownership)"
			f.Fix = fmt.Sprintf("ALTER DATABASE %s OWNER TO CURRENT_USER", quote(db))
		}
		findings = append(findings, f)
		return nil
	})
	if err != nil {
		d.errCheck("runtime memberships", err)
		return
	}
	if len(member) == 0 {
		d.r.add("runtime memberships", CheckOK, fmt.Sprintf("runtime role %s is a member of no other role", n.RuntimeRole), "")
		return
	}
	hint := "revoke as shown"
	if len(directOnes) > 0 {
		hint = fmt.Sprintf("REVOKE %s FROM %s", strings.Join(quoteAll(directOnes), ", "), quote(n.RuntimeRole))
	}
	d.r.Checks = append(d.r.Checks, Check{Name: "runtime memberships", Status: CheckFail, Hint: hint, Findings: findings,
		Message: fmt.Sprintf("runtime role %s is a member of %s", n.RuntimeRole, strings.Join(member, ", "))})
}

// limits checks the connection limit apply sets on the runtime role (its session defaults are
// checked in a session of the role: see runtime).
func (d doctor) limits(ctx context.Context) {
	n := d.n
	l := d.opts.Limits.WithDefaults()
	st, ok, err := readRoleSettings(ctx, d.admin, n.RuntimeRole)
	if err != nil {
		d.errCheck("connection limit", err)
		return
	}
	if !ok {
		return // roles reported it
	}
	if st.connLimit != l.ConnectionLimit {
		have := fmt.Sprint(st.connLimit)
		if st.connLimit < 0 {
			have = "none"
		}
		d.r.Checks = append(d.r.Checks, Check{Name: "connection limit", Status: CheckFail,
			Message: fmt.Sprintf("runtime role %s has connection limit %s, not %d: a leaked DSN could use up the server's connections", n.RuntimeRole, have, l.ConnectionLimit),
			Hint:    "run `agent-mv apply` (runtime_role.connection_limit in materialize.yaml sets the limit)",
			Findings: []Finding{{Object: "role " + n.RuntimeRole, Exposure: "connection limit " + have,
				Fix: fmt.Sprintf("ALTER ROLE %s CONNECTION LIMIT %d", quote(n.RuntimeRole), l.ConnectionLimit)}}})
		return
	}
	d.r.add("connection limit", CheckOK, fmt.Sprintf("runtime role %s may open at most %d connections", n.RuntimeRole, l.ConnectionLimit), "")
}

// databaseTempSQL: whether $1 may create temporary tables here, and through whom.
var databaseTempSQL = mustSQL("database_temp", `
SELECT d.datname::text,
       pg_catalog.has_database_privilege($1, d.oid, 'TEMPORARY'),
       EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
                WHERE a.grantee = 0 AND a.privilege_type = 'TEMPORARY'),
       EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
                WHERE a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1) AND a.privilege_type = 'TEMPORARY')
  FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`)

// temporary: TEMPORARY lets the runtime role create temporary tables, functions and views in
// its own session (disk and memory, never other roles' data). PUBLIC has it by default; apply
// revokes it from PUBLIC only when materialize.yaml says so, because that changes what every
// role may do. So: ⚠ when it comes from PUBLIC and the YAML does not ask for the revoke, ✗
// when it was granted to the role itself or the YAML asks for the revoke.
func (d doctor) temporary(ctx context.Context) {
	n := d.n
	var db string
	var has, viaPublic, direct bool
	if err := d.admin.QueryRow(ctx, databaseTempSQL.render(Names{}), n.RuntimeRole).Scan(&db, &has, &viaPublic, &direct); err != nil {
		d.errCheck("temporary", err)
		return
	}
	if !has {
		d.r.add("temporary", CheckOK, fmt.Sprintf("runtime role %s cannot create temporary tables", n.RuntimeRole), "")
		return
	}
	fromPublic := fmt.Sprintf("REVOKE TEMPORARY ON DATABASE %s FROM PUBLIC", quote(db))
	switch {
	case direct:
		d.r.Checks = append(d.r.Checks, Check{Name: "temporary", Status: CheckFail,
			Message: fmt.Sprintf("runtime role %s was granted TEMPORARY on database %s", n.RuntimeRole, db),
			Findings: []Finding{{Object: "database " + db, Exposure: "TEMPORARY granted to the runtime role by name",
				Fix: fmt.Sprintf("REVOKE TEMPORARY ON DATABASE %s FROM %s", quote(db), quote(n.RuntimeRole))}}})
	case viaPublic && d.opts.RevokeTemporary:
		d.r.Checks = append(d.r.Checks, Check{Name: "temporary", Status: CheckFail,
			Message:  fmt.Sprintf("PUBLIC has TEMPORARY on database %s again although materialize.yaml sets public_privileges.revoke_temporary", db),
			Hint:     "run `agent-mv apply`",
			Findings: []Finding{{Object: "database " + db, Exposure: "TEMPORARY through PUBLIC", Fix: fromPublic}}})
	case viaPublic:
		d.r.Checks = append(d.r.Checks, Check{Name: "temporary", Status: CheckWarn,
			Message: fmt.Sprintf("runtime role %s can create temporary tables in database %s (TEMPORARY is granted to PUBLIC, Postgres's default)", n.RuntimeRole, db),
			Hint: "to stop it, add `public_privileges: {revoke_temporary: true}` to materialize.yaml and run `agent-mv apply`, or run the fix yourself; " +
				"roles that use temporary tables then need GRANT TEMPORARY ON DATABASE " + quote(db) + " TO <role>",
			Findings: []Finding{{Object: "database " + db, Exposure: "TEMPORARY through PUBLIC", Fix: fromPublic}}})
	default:
		d.r.Checks = append(d.r.Checks, Check{Name: "temporary", Status: CheckFail,
			Message: fmt.Sprintf("runtime role %s can create temporary tables in database %s through a role it belongs to", n.RuntimeRole, db),
			Hint:    "see runtime memberships"})
	}
}

// exposures runs the whole-database probes (exposure.go).
func (d doctor) exposures(ctx context.Context) {
	checks, err := Exposures(ctx, d.admin, d.n, d.n.RuntimeRole, ExposureOptions{AllowSecurityDefiner: d.opts.AllowSecurityDefiner})
	if err != nil {
		d.errCheck("exposures", err)
		return
	}
	d.r.Checks = append(d.r.Checks, checks...)
}

// sessions reports sessions of the runtime role that hold locks agentmv needs.
func (d doctor) sessions(ctx context.Context) {
	roleSessions(ctx, d.admin, d.n, "runtime sessions", d.n.RuntimeRole, d.opts.Limits, d.r)
}

// roleSessions is the check (named check) that no session of role holds what blocks
// refreshes or apply (sessionFindings): the runtime role's, and each agent's.
func roleSessions(ctx context.Context, admin Reader, n Names, check, role string, l RoleLimits, r *Report) {
	findings, err := sessionFindings(ctx, admin, n, role, l)
	if err != nil {
		r.add(check, CheckFail, fmt.Sprintf("%s: probe failed: %v", check, err), "check that DATABASE_URL connects as an administrator")
		return
	}
	if len(findings) == 0 {
		r.add(check, CheckOK, fmt.Sprintf("no session of %s holds an advisory lock while idle or a transaction past its timeout", role), "")
		return
	}
	r.Checks = append(r.Checks, Check{Name: check, Status: CheckFail, Findings: findings,
		Message: fmt.Sprintf("%d session(s) of %s hold locks that block refreshes or apply", len(findings), role),
		Hint:    "end them as shown; agentmv's own sessions never hold an advisory lock outside a transaction"})
}

// relationFixesSQL: for relations ($2 schemas, $3 names), the statements that take from PUBLIC
// and from role $1 what they hold on each: table-level and column-level grants, ownership.
// SELECT stays where $4 says it is allowed (managed views: agentmv grants it).
var relationFixesSQL = mustSQL("relation_fixes", `
WITH rel AS (
  SELECT c.oid, c.relkind, c.relowner, c.relacl, ns.nspname, c.relname, x.keep_select
    FROM unnest($2::text[], $3::text[], $4::bool[]) AS x(nspname, relname, keep_select)
    JOIN pg_catalog.pg_namespace ns ON ns.nspname = x.nspname
    JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = x.relname
), rt AS (SELECT oid, rolname FROM pg_catalog.pg_roles WHERE rolname = $1)
SELECT rel.nspname::text, rel.relname::text,
       coalesce((SELECT string_agg(s.stmt, '; ' ORDER BY s.ord, s.stmt) FROM (
         SELECT 0 AS ord, (SELECT {{template "alter_owner_relation" "c"}} FROM pg_catalog.pg_class c WHERE c.oid = rel.oid) AS stmt
          WHERE rel.relowner = rt.oid
         UNION ALL
         SELECT 1, format('REVOKE %s ON %s %I.%I FROM %s', string_agg(DISTINCT a.privilege_type, ', '),
                          CASE WHEN rel.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, rel.nspname, rel.relname,
                          CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(rt.rolname) END)
           FROM pg_catalog.aclexplode(rel.relacl) a
          WHERE a.grantee IN (0, rt.oid) AND rel.relowner <> rt.oid AND NOT (rel.keep_select AND a.privilege_type = 'SELECT')
          GROUP BY a.grantee
         UNION ALL
         SELECT 2, format('REVOKE %s (%s) ON TABLE %I.%I FROM %s', a.privilege_type,
                          string_agg(quote_ident(att.attname), ', ' ORDER BY att.attnum), rel.nspname, rel.relname,
                          CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(rt.rolname) END)
           FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) a
          WHERE att.attrelid = rel.oid AND att.attnum > 0 AND NOT att.attisdropped AND a.grantee IN (0, rt.oid)
            AND NOT (rel.keep_select AND a.privilege_type = 'SELECT')
          GROUP BY a.grantee, a.privilege_type
       ) s), '')
  FROM rel, rt`)

// relationFindings turns RuntimeAccess's relations into findings with their fixes.
func relationFindings(ctx context.Context, q Reader, role string, found []RelationPrivileges) ([]Finding, error) {
	schemas, names, keep := make([]string, len(found)), make([]string, len(found)), make([]bool, len(found))
	for i, f := range found {
		schemas[i], names[i], keep[i] = f.Schema, f.Name, !slices.Contains(f.Privileges, "SELECT")
	}
	rows, err := q.Query(ctx, relationFixesSQL.render(Names{}), role, schemas, names, keep)
	if err != nil {
		return nil, fmt.Errorf("read grants of the relations: %w", err)
	}
	fixes := map[Relation]string{}
	var schema, name, fix string
	if _, err := pgx.ForEachRow(rows, []any{&schema, &name, &fix}, func() error {
		fixes[Relation{Schema: schema, Name: name}] = fix
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read grants of the relations: %w", err)
	}
	out := make([]Finding, 0, len(found))
	for _, f := range found {
		fix := fixes[f.Relation]
		if fix == "" {
			fix = "revoke the membership that lends it (see runtime memberships)"
		}
		exposure := "may " + strings.Join(f.Privileges, ", ")
		if slices.Contains(f.Privileges, "SELECT") {
			exposure = "may read it (" + strings.Join(f.Privileges, ", ") + ")"
		}
		out = append(out, Finding{Object: "relation " + f.String(), Exposure: exposure, Fix: fix})
	}
	return out, nil
}

// sessionDefaults checks, in a fresh session of the runtime role, the defaults apply gives it
// (statement_timeout, idle_in_transaction_session_timeout, default_transaction_read_only) and
// that lo_compat_privileges is off. The role may change its own defaults (ALTER ROLE ... SET
// needs no privilege for oneself), so they are checked, not assumed.
func (d doctor) sessionDefaults(ctx context.Context, conn Reader) {
	n := d.n
	var db string
	if err := conn.QueryRow(ctx, currentDatabaseSQL.render(Names{})).Scan(&db); err != nil {
		d.errCheck("session defaults", err)
		return
	}
	findings, err := sessionChecks(ctx, conn, n, db, d.opts.Limits)
	if err != nil {
		d.errCheck("session defaults", err)
		return
	}
	if len(findings) == 0 {
		l := d.opts.Limits.WithDefaults()
		d.r.add("session defaults", CheckOK, fmt.Sprintf("a session of %s starts read-only with statement_timeout %s and idle_in_transaction_session_timeout %s; lo_compat_privileges is off",
			n.RuntimeRole, l.StatementTimeout, l.IdleInTransactionTimeout), "")
		return
	}
	d.r.Checks = append(d.r.Checks, Check{Name: "session defaults", Status: CheckFail, Findings: findings,
		Message: fmt.Sprintf("a session of %s does not start with the limits apply sets", n.RuntimeRole),
		Hint:    "run `agent-mv apply` (it restores the role's defaults), or the fixes shown"})
}

var currentDatabaseSQL = mustSQL("current_database", `SELECT pg_catalog.current_database()::text`)
