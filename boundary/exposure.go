package boundary

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Whole-database exposure probes: every way besides relations by which a role (the runtime
// role, and later each agent role) can read or change data. Doctor and apply run them as the
// admin; each finding names the object and the statement that removes the exposure, built by
// Postgres itself with format('%I') so names are quoted exactly as the catalog spells them.

// Finding is one object a role can reach that it should not.
type Finding struct {
	// Object names it as Postgres does, e.g. "function public.leak()", "large object 16402".
	Object string `json:"object"`
	// Exposure says what the role can do with it and through whom (PUBLIC, a direct grant).
	Exposure string `json:"exposure"`
	// Fix is the exact statement (or statements, separated by "; ") that removes the exposure.
	Fix string `json:"fix"`
}

// ExposureOptions are the role's expected rights: what agentmv itself grants is never a finding.
type ExposureOptions struct {
	// AllowSecurityDefiner lists functions (`schema.name(argument types)`) the role may EXECUTE
	// although they are SECURITY DEFINER (materialize.yaml runtime_role.allow_security_definer).
	AllowSecurityDefiner []string
}

// exposureProbe is one class of exposure: a catalog query returning (object, exposure, fix).
type exposureProbe struct {
	name  string // Check.Name
	since int    // first server_version_num it applies to (0: every supported version)
	ok    string // Check message when nothing is found; %s is the role
	fail  string // Check message when something is; %s is the role, %d the number of findings
	hint  string // Check hint when something is found
	sql   sqlText
	args  func(e exposureEnv) []any // bound parameters; nil for none
}

func roleArg(e exposureEnv) []any { return []any{e.role} }

type exposureEnv struct {
	n       Names
	role    string
	allowed []uint32 // OIDs of the allowlisted SECURITY DEFINER functions
}

// alterOwnerFragment is the statement that hands relation {{.}} (a pg_class alias) to the
// current user; a sequence that belongs to a table column (serial, identity) moves with its
// table, so for it the statement names the table.
const alterOwnerFragment = `{{define "alter_owner_relation"}}coalesce(
  (SELECT format('ALTER TABLE %I.%I OWNER TO %I', tn.nspname, t.relname, current_user)
     FROM pg_catalog.pg_depend dep
     JOIN pg_catalog.pg_class t ON t.oid = dep.refobjid
     JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
    WHERE {{.}}.relkind = 'S' AND dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = {{.}}.oid
      AND dep.refclassid = 'pg_catalog.pg_class'::regclass AND dep.deptype IN ('a', 'i') LIMIT 1),
  format('ALTER %s %I.%I OWNER TO %I',
         CASE {{.}}.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                            WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
         (SELECT ns.nspname FROM pg_catalog.pg_namespace ns WHERE ns.oid = {{.}}.relnamespace), {{.}}.relname, current_user)){{end}}`

// objectNameFragment names the pg_shdepend row d's object fully qualified, whatever the
// search_path: "table public.users", "large object 16402", "parameter ACL lo_compat_privileges".
const objectNameFragment = `{{define "object_name"}}(SELECT format('%s %s', i.type, i.identity)
   FROM pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) i){{end}}`

// securityDefinerSQL: SECURITY DEFINER routines role may EXECUTE (directly, through PUBLIC or a
// role it inherits from) in a schema it may use, other than agentmv's refresh function and the
// allowlisted ones. They run as their owner, whatever they read.
var securityDefinerSQL = mustSQL("exposure_security_definer", `
SELECT format('%s %I.%I(%s)', CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
              n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)),
       format('EXECUTE %s; it is SECURITY DEFINER, so it runs as %I with that role''s privileges',
              CASE WHEN pub.ok AND dir.ok THEN 'through PUBLIC and a direct grant'
                   WHEN pub.ok THEN 'through PUBLIC (the default for every function)'
                   WHEN dir.ok THEN 'through a direct grant'
                   ELSE 'through a role it belongs to' END,
              pg_catalog.pg_get_userbyid(p.proowner)),
       coalesce(nullif(concat_ws('; ',
         CASE WHEN pub.ok THEN format('REVOKE EXECUTE ON %s %I.%I(%s) FROM PUBLIC', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                                      n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) END,
         CASE WHEN dir.ok THEN format('REVOKE EXECUTE ON %s %I.%I(%s) FROM %I', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                                      n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid), r.rolname) END), ''),
                'revoke the membership that lends it (see runtime memberships)')
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_catalog.pg_roles r ON r.rolname = $1
  CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
                                      WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS ok) pub
  CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
                                      WHERE a.grantee = r.oid AND a.privilege_type = 'EXECUTE') AS ok) dir
 WHERE p.prosecdef
   AND pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE')
   AND pg_catalog.has_schema_privilege(r.oid, n.oid, 'USAGE')
   AND p.oid IS DISTINCT FROM pg_catalog.to_regprocedure($2)
   AND p.oid <> ALL ($3::oid[])
 ORDER BY 1`)

// largeObjectsSQL: large objects PUBLIC may read or write (the role's own grants and the
// objects it owns are direct grants / owned objects).
var largeObjectsSQL = mustSQL("exposure_large_objects", `
SELECT format('large object %s', m.oid),
       format('%s through PUBLIC (lo_get, lo_open)', string_agg(DISTINCT a.privilege_type, ', ')),
       format('REVOKE ALL ON LARGE OBJECT %s FROM PUBLIC', m.oid)
  FROM pg_catalog.pg_largeobject_metadata m, pg_catalog.aclexplode(m.lomacl) a
 WHERE a.grantee = 0
 GROUP BY m.oid
 ORDER BY m.oid`)

// foreignDataSQL: foreign servers and wrappers PUBLIC may use, and user mappings for PUBLIC.
var foreignDataSQL = mustSQL("exposure_foreign_data", `
SELECT format('foreign server %I', s.srvname),
       'USAGE through PUBLIC: any role may connect through it with its user mappings (dblink, postgres_fdw)',
       format('REVOKE USAGE ON FOREIGN SERVER %I FROM PUBLIC', s.srvname)
  FROM pg_catalog.pg_foreign_server s
 WHERE EXISTS (SELECT 1 FROM pg_catalog.aclexplode(s.srvacl) a WHERE a.grantee = 0)
UNION ALL
SELECT format('foreign-data wrapper %I', w.fdwname),
       'USAGE through PUBLIC: any role may create foreign servers with it',
       format('REVOKE USAGE ON FOREIGN DATA WRAPPER %I FROM PUBLIC', w.fdwname)
  FROM pg_catalog.pg_foreign_data_wrapper w
 WHERE EXISTS (SELECT 1 FROM pg_catalog.aclexplode(w.fdwacl) a WHERE a.grantee = 0)
UNION ALL
SELECT format('user mapping for PUBLIC on server %I', um.srvname),
       'every role that may use the server connects with these credentials',
       format('DROP USER MAPPING FOR PUBLIC SERVER %I', um.srvname)
  FROM pg_catalog.pg_user_mappings um
 WHERE um.umuser = 0
 ORDER BY 1`)

// defaultPrivilegesSQL: ALTER DEFAULT PRIVILEGES entries that will hand future objects to
// PUBLIC or to the role. EXECUTE on functions and USAGE on types for PUBLIC are Postgres's
// built-in defaults (security definer functions are checked one by one instead). Large
// objects ('L') exist from PostgreSQL 18 on.
var defaultPrivilegesSQL = mustSQL("exposure_default_privileges", `
SELECT format('default privileges of role %I%s for new %s', pg_catalog.pg_get_userbyid(d.defaclrole),
              CASE WHEN d.defaclnamespace = 0 THEN '' ELSE format(' in schema %I', ns.nspname) END, k.plural),
       format('%s through %s on every %s created from now on (a latent leak)',
              string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type),
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE 'a direct grant' END, k.singular),
       format('ALTER DEFAULT PRIVILEGES FOR ROLE %I%s REVOKE %s ON %s FROM %s', pg_catalog.pg_get_userbyid(d.defaclrole),
              CASE WHEN d.defaclnamespace = 0 THEN '' ELSE format(' IN SCHEMA %I', ns.nspname) END,
              string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type), upper(k.plural),
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END)
  FROM pg_catalog.pg_default_acl d
  LEFT JOIN pg_catalog.pg_namespace ns ON ns.oid = d.defaclnamespace
  JOIN (VALUES ('r', 'tables', 'table'), ('S', 'sequences', 'sequence'), ('f', 'functions', 'function'),
               ('T', 'types', 'type'), ('n', 'schemas', 'schema'), ('L', 'large objects', 'large object'))
       AS k(objtype, plural, singular) ON k.objtype = d.defaclobjtype::text
  JOIN pg_catalog.pg_roles r ON r.rolname = $1,
       pg_catalog.aclexplode(d.defaclacl) a
 WHERE (a.grantee = 0 AND d.defaclobjtype IN ('r', 'S', 'n', 'L')) OR a.grantee = r.oid
 GROUP BY d.defaclrole, d.defaclnamespace, ns.nspname, k.plural, k.singular, a.grantee, r.rolname
 ORDER BY 1, 2`)

// parameterPrivilegesSQL (PostgreSQL 15+): GRANT SET / ALTER SYSTEM ON PARAMETER to PUBLIC,
// which lets every role change a superuser-only setting (lo_compat_privileges opens every
// large object, session_replication_role skips triggers).
var parameterPrivilegesSQL = mustSQL("exposure_parameter_privileges", `
SELECT format('parameter %s', p.parname),
       format('%s through PUBLIC: any role may change this superuser-only setting', string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)),
       format('REVOKE ALL ON PARAMETER %s FROM PUBLIC', p.parname)
  FROM pg_catalog.pg_parameter_acl p, pg_catalog.aclexplode(p.paracl) a
 WHERE a.grantee = 0
 GROUP BY p.parname
 ORDER BY 1`)

// directGrantsSQL: every object in this database (or shared) on which the role holds a
// privilege granted to it by name (pg_shdepend 'a'): large objects, foreign servers and
// wrappers, parameters (15+) and any kind a later Postgres adds. Left to other checks, which
// give their own fixes: relations (access boundary), default privileges, databases (create,
// temporary, other databases), schemas (create; USAGE alone reaches no data), functions
// (security definer; EXECUTE on any other function runs with the role's own rights). Types,
// languages and tablespaces only carry USAGE or CREATE, which reach no data.
var directGrantsSQL = mustSQL("exposure_direct_grants", `
SELECT {{template "object_name"}},
       'privileges granted to the role by name',
       CASE d.classid
         WHEN 'pg_catalog.pg_largeobject'::regclass THEN format('REVOKE ALL ON LARGE OBJECT %s FROM %I', d.objid, r.rolname)
         WHEN 'pg_catalog.pg_foreign_server'::regclass THEN
           (SELECT format('REVOKE ALL ON FOREIGN SERVER %I FROM %I', s.srvname, r.rolname) FROM pg_catalog.pg_foreign_server s WHERE s.oid = d.objid)
         WHEN 'pg_catalog.pg_foreign_data_wrapper'::regclass THEN
           (SELECT format('REVOKE ALL ON FOREIGN DATA WRAPPER %I FROM %I', w.fdwname, r.rolname) FROM pg_catalog.pg_foreign_data_wrapper w WHERE w.oid = d.objid)
         WHEN pg_catalog.to_regclass('pg_catalog.pg_parameter_acl') THEN -- PostgreSQL 15+
           (SELECT format('REVOKE ALL ON PARAMETER %s FROM %I', i.identity, r.rolname) FROM pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) i)
         ELSE format('REVOKE ALL ON %s FROM %I', pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), r.rolname)
       END
  FROM pg_catalog.pg_shdepend d
  JOIN pg_catalog.pg_roles r ON r.rolname = $1
 WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass AND d.refobjid = r.oid AND d.deptype = 'a'
   AND d.dbid IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
   AND d.classid NOT IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_default_acl'::regclass, 'pg_catalog.pg_database'::regclass,
                         'pg_catalog.pg_namespace'::regclass, 'pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_type'::regclass,
                         'pg_catalog.pg_language'::regclass, 'pg_catalog.pg_tablespace'::regclass)
 ORDER BY 1`)

// ownedObjectsSQL: objects the role owns (pg_shdepend 'o'): an owner holds every privilege on
// its object and may grant them on or redefine it. The fix hands the object to the admin
// running the check (for user mappings: drops the mapping).
var ownedObjectsSQL = mustSQL("exposure_owned_objects", `
SELECT {{template "object_name"}},
       CASE WHEN d.classid = 'pg_catalog.pg_user_mapping'::regclass
            THEN 'the role''s own user mapping: it connects through the server with these credentials whenever it may use the server'
            ELSE 'owned by the role: it holds every privilege on it and may grant them or redefine it' END,
       CASE d.classid
         WHEN 'pg_catalog.pg_class'::regclass THEN
           (SELECT {{template "alter_owner_relation" "c"}} FROM pg_catalog.pg_class c WHERE c.oid = d.objid)
         WHEN 'pg_catalog.pg_proc'::regclass THEN
           (SELECT format('ALTER %s %I.%I(%s) OWNER TO %I', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                          pn.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid), current_user)
              FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = d.objid)
         WHEN 'pg_catalog.pg_namespace'::regclass THEN
           (SELECT format('ALTER SCHEMA %I OWNER TO %I', ns.nspname, current_user) FROM pg_catalog.pg_namespace ns WHERE ns.oid = d.objid)
         WHEN 'pg_catalog.pg_largeobject'::regclass THEN format('ALTER LARGE OBJECT %s OWNER TO %I', d.objid, current_user)
         WHEN 'pg_catalog.pg_type'::regclass THEN
           (SELECT format('ALTER TYPE %I.%I OWNER TO %I', tn.nspname, t.typname, current_user)
              FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace WHERE t.oid = d.objid)
         WHEN 'pg_catalog.pg_database'::regclass THEN
           (SELECT format('ALTER DATABASE %I OWNER TO %I', db.datname, current_user) FROM pg_catalog.pg_database db WHERE db.oid = d.objid)
         WHEN 'pg_catalog.pg_foreign_server'::regclass THEN
           (SELECT format('ALTER SERVER %I OWNER TO %I', s.srvname, current_user) FROM pg_catalog.pg_foreign_server s WHERE s.oid = d.objid)
         WHEN 'pg_catalog.pg_user_mapping'::regclass THEN
           (SELECT format('DROP USER MAPPING FOR %I SERVER %I', r.rolname, um.srvname) FROM pg_catalog.pg_user_mappings um WHERE um.umid = d.objid)
         ELSE format('REASSIGN OWNED BY %I TO %I', r.rolname, current_user)
       END
  FROM pg_catalog.pg_shdepend d
  JOIN pg_catalog.pg_roles r ON r.rolname = $1
 WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass AND d.refobjid = r.oid AND d.deptype = 'o'
   AND d.dbid IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
   AND d.classid <> 'pg_catalog.pg_default_acl'::regclass -- the role's own default privileges: see default privileges
 ORDER BY 1`)

// otherDatabasesSQL: databases besides this one the role may connect to (CONNECT is granted to
// PUBLIC on every database by default): whatever PUBLIC may do there, it may too.
var otherDatabasesSQL = mustSQL("exposure_other_databases", `
SELECT format('database %I', db.datname),
       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(db.datacl, pg_catalog.acldefault('d', db.datdba))) a
                          WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT')
            THEN 'CONNECT through PUBLIC' ELSE 'CONNECT' END,
       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(db.datacl, pg_catalog.acldefault('d', db.datdba))) a
                          WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT')
            THEN format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', db.datname)
            ELSE format('REVOKE CONNECT ON DATABASE %I FROM %I', db.datname, $1::text) END
  FROM pg_catalog.pg_database db
 WHERE db.datallowconn AND db.datname <> pg_catalog.current_database()
   AND pg_catalog.has_database_privilege($1, db.oid, 'CONNECT')
 ORDER BY 1`)

// exposureProbes run in this order; their findings are ✗ except the last (⚠).
var exposureProbes = []exposureProbe{
	{name: "security definer", sql: securityDefinerSQL,
		ok:   "%s may execute no SECURITY DEFINER function besides agentmv's own and the allowlisted ones",
		fail: "%s may execute %d SECURITY DEFINER function(s), which run with their owner's privileges",
		hint: "revoke EXECUTE as shown, or list the function under runtime_role.allow_security_definer in materialize.yaml when the runtime role must call it",
		args: func(e exposureEnv) []any {
			return []any{e.role, e.n.function(), e.allowed}
		}},
	{name: "large objects", sql: largeObjectsSQL,
		ok:   "no large object is readable or writable through PUBLIC (%s)",
		fail: "%s may read or write %d large object(s) through PUBLIC",
		hint: "revoke as shown"},
	{name: "foreign data", sql: foreignDataSQL,
		ok:   "no foreign server, wrapper or user mapping is open to PUBLIC (%s)",
		fail: "%s may use %d foreign server(s), wrapper(s) or user mapping(s) through PUBLIC",
		hint: "revoke or drop as shown"},
	{name: "default privileges", sql: defaultPrivilegesSQL,
		ok:   "no default privileges hand future objects to PUBLIC or to %s",
		fail: "%s would get %d kind(s) of future objects through default privileges (a latent leak)",
		hint: "alter the default privileges as shown",
		args: roleArg},
	{name: "parameter privileges", since: 150000, sql: parameterPrivilegesSQL,
		ok:   "no superuser-only setting may be changed through PUBLIC (%s)",
		fail: "%s may change %d superuser-only setting(s) through PUBLIC",
		hint: "revoke as shown"},
	{name: "direct grants", sql: directGrantsSQL,
		ok:   "%s holds no grant by name besides agentmv's own",
		fail: "%s holds %d grant(s) by name on objects that are not agentmv's",
		hint: "revoke as shown",
		args: roleArg},
	{name: "owned objects", sql: ownedObjectsSQL,
		ok:   "%s owns no object",
		fail: "%s owns %d object(s)",
		hint: "hand them to another role as shown",
		args: roleArg},
}

// otherDatabasesProbe is a warning: CONNECT to other databases is Postgres's default.
var otherDatabasesProbe = exposureProbe{name: "other databases", sql: otherDatabasesSQL,
	ok:   "%s may connect to no other database",
	fail: "%s may connect to %d other database(s) of this server, with whatever PUBLIC may do there",
	hint: "revoke CONNECT as shown where the runtime role has no business (or refuse it in pg_hba.conf)",
	args: roleArg}

// ServerVersionNum returns the server's server_version_num (e.g. 170010).
func ServerVersionNum(ctx context.Context, q Reader) (int, error) {
	var v int
	if err := q.QueryRow(ctx, serverVersionSQL.render(Names{})).Scan(&v); err != nil {
		return 0, fmt.Errorf("read server_version_num: %w", err)
	}
	return v, nil
}

var serverVersionSQL = mustSQL("server_version_num", `SELECT pg_catalog.current_setting('server_version_num')::int`)

var resolveFunctionSQL = mustSQL("resolve_function", `SELECT pg_catalog.to_regprocedure($1)::oid`)

// ResolveFunctions resolves `schema.name(argument types)` entries to function OIDs as
// Postgres would (regprocedure). Entries that name no function come back in unknown, with
// Postgres's reason when it gave one (before PostgreSQL 16 an unknown type is an error).
func ResolveFunctions(ctx context.Context, q Reader, entries []string) (oids []uint32, unknown []string, err error) {
	for _, e := range entries {
		var oid *uint32
		if qerr := q.QueryRow(ctx, resolveFunctionSQL.render(Names{}), e).Scan(&oid); qerr != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			unknown = append(unknown, fmt.Sprintf("%s (%v)", e, qerr))
			continue
		}
		if oid == nil {
			unknown = append(unknown, e+" (no such function)")
			continue
		}
		oids = append(oids, *oid)
	}
	return oids, unknown, nil
}

// allowlistCheck is the warning about allow_security_definer entries that name no function.
const allowlistCheck = "security definer allowlist"

// Exposures runs the whole-database probes for role as the admin (q) and returns one Check
// per class, with a Finding per object: ✗ for every path to data, ⚠ for allowlist entries
// that name no function and for CONNECT to other databases. n names agentmv's own objects
// (whose grants are expected). The probes only read the catalogs.
func Exposures(ctx context.Context, q Reader, n Names, role string, opts ExposureOptions) ([]Check, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	version, err := ServerVersionNum(ctx, q)
	if err != nil {
		return nil, err
	}
	allowed, unknown, err := ResolveFunctions(ctx, q, opts.AllowSecurityDefiner)
	if err != nil {
		return nil, err
	}
	if allowed == nil {
		allowed = []uint32{}
	}
	e := exposureEnv{n: n, role: role, allowed: allowed}
	var checks []Check
	for _, p := range exposureProbes {
		if version < p.since {
			continue
		}
		c, err := p.run(ctx, q, e, CheckFail)
		if err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	if len(unknown) > 0 {
		checks = append(checks, Check{Name: allowlistCheck, Status: CheckWarn,
			Message: "runtime_role.allow_security_definer names no function for: " + strings.Join(unknown, "; "),
			Hint:    "write each entry as schema.name(argument types), e.g. public.current_tenant_id(), or remove it"})
	}
	c, err := otherDatabasesProbe.run(ctx, q, e, CheckWarn)
	if err != nil {
		return nil, err
	}
	return append(checks, c), nil
}

func (p exposureProbe) run(ctx context.Context, q Reader, e exposureEnv, status string) (Check, error) {
	var args []any
	if p.args != nil {
		args = p.args(e)
	}
	rows, err := q.Query(ctx, p.sql.render(e.n), args...)
	if err != nil {
		return Check{}, fmt.Errorf("%s probe: %w", p.name, err)
	}
	findings, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Finding, error) {
		var f Finding
		err := r.Scan(&f.Object, &f.Exposure, &f.Fix)
		return f, err
	})
	if err != nil {
		return Check{}, fmt.Errorf("%s probe: %w", p.name, err)
	}
	if len(findings) == 0 {
		return Check{Name: p.name, Status: CheckOK, Message: fmt.Sprintf(p.ok, e.role)}, nil
	}
	return Check{Name: p.name, Status: status, Message: fmt.Sprintf(p.fail, e.role, len(findings)), Hint: p.hint, Findings: findings}, nil
}
