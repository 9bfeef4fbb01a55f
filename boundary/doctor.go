package boundary

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DoctorOptions are what the configuration expects of the database.
type DoctorOptions struct {
	// Managed are the names of the views the configuration manages.
	Managed []string
	// Limits are the runtime role's limits apply sets (zero fields: the defaults).
	Limits RoleLimits
	// AllowSecurityDefiner lists SECURITY DEFINER functions the runtime role may execute.
	AllowSecurityDefiner []string
	// RevokeTemporary is materialize.yaml's public_privileges.revoke_temporary: TEMPORARY for
	// the runtime role is then ✗ (apply revoked it from PUBLIC) instead of ⚠.
	RevokeTemporary bool
}

// Doctor checks the installed objects and the access boundary across the whole database.
// admin is a privileged connection to the database; runtimeURL is the runtime role's DSN (it
// must log in over TCP). Probes never modify anything: EXECUTE is proven by calling
// refresh_view with a name that cannot be registered (the allowlist rejects it).
func Doctor(ctx context.Context, admin Querier, runtimeURL string, n Names, opts DoctorOptions) Report {
	var r Report
	if err := n.Validate(); err != nil {
		r.add("names", CheckFail, err.Error(), "fix target_schema / role names in materialize.yaml or the environment")
		return r
	}
	d := doctor{admin: admin, n: n, r: &r, managed: opts.Managed, opts: opts}
	if !d.objects(ctx) {
		return r
	}
	rights, roleOK := d.roles(ctx)
	d.limits(ctx)
	d.function(ctx)
	d.boundary(ctx)
	if roleOK {
		d.create(rights)
		d.temporary(ctx)
	}
	d.exposures(ctx)
	d.views(ctx)
	d.refreshModes(ctx)
	d.sessions(ctx)
	d.capture(ctx)
	d.runtime(ctx, runtimeURL)
	return r
}

type doctor struct {
	admin   Querier
	n       Names
	r       *Report
	managed []string
	opts    DoctorOptions
}

func (d doctor) errCheck(name string, err error) {
	d.r.add(name, CheckFail, fmt.Sprintf("%s: probe failed: %v", name, err), "check that DATABASE_URL connects as an administrator")
}

func (d doctor) objects(ctx context.Context) bool {
	n := d.n
	var schema bool
	if err := d.admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, n.Schema).Scan(&schema); err != nil {
		d.errCheck("schema", err)
		return false
	}
	if !schema {
		d.r.add("schema", CheckFail, fmt.Sprintf("%s schema missing — run `agent-mv apply`", n.Schema), "")
		return false
	}
	v, err := InstalledVersion(ctx, d.admin, n)
	if err != nil {
		d.errCheck("version", err)
		return false
	}
	switch {
	case v < ExpectedVersion:
		d.r.add("version", CheckFail, fmt.Sprintf("%s objects are at version %d, expected %d", n.Schema, v, ExpectedVersion), "run `agent-mv apply` to upgrade them")
	case v > ExpectedVersion:
		d.r.add("version", CheckFail, fmt.Sprintf("%s objects are at version %d, newer than this agentmv (%d)", n.Schema, v, ExpectedVersion), "upgrade agentmv")
	default:
		d.r.add("version", CheckOK, fmt.Sprintf("%s objects at version %d", n.Schema, v), "")
	}
	var missing []string
	for _, t := range MetadataTables() {
		var ok bool
		if err := d.admin.QueryRow(ctx, relationExistsSQL.render(n), n.rel(t)).Scan(&ok); err != nil {
			d.errCheck("objects", err)
			return false
		}
		if !ok {
			missing = append(missing, n.Schema+"."+t)
		}
	}
	var fn bool
	if err := d.admin.QueryRow(ctx, functionExistsSQL.render(n), n.function()).Scan(&fn); err != nil {
		d.errCheck("objects", err)
		return false
	}
	if !fn {
		missing = append(missing, n.Schema+".refresh_view(text)")
	}
	if len(missing) > 0 {
		d.r.add("objects", CheckFail, "missing objects: "+strings.Join(missing, ", "), "run `agent-mv apply`")
		return false
	}
	d.r.add("objects", CheckOK, fmt.Sprintf("%s tables and %s.refresh_view(text) exist", n.Schema, n.Schema), "")
	return true
}

// roles checks the runtime and owner roles; it returns the runtime role's rights for create
// (ok false when they could not be read).
func (d doctor) roles(ctx context.Context) (rr RoleRights, ok bool) {
	n := d.n
	rr, err := RoleRightsOf(ctx, d.admin, n.RuntimeRole)
	if err != nil {
		d.errCheck("runtime role", err)
		return rr, false
	}
	if !rr.Exists {
		d.r.add("runtime role", CheckFail, fmt.Sprintf("runtime role %s does not exist", n.RuntimeRole), "run `agent-mv apply`")
		return rr, false
	}
	var bad []string
	for _, a := range []struct {
		on   bool
		attr string
	}{{rr.Superuser, "SUPERUSER"}, {rr.BypassRLS, "BYPASSRLS"}, {rr.CreateRole, "CREATEROLE"}, {rr.CreateDB, "CREATEDB"}, {rr.Replication, "REPLICATION"}} {
		if a.on {
			bad = append(bad, a.attr)
		}
	}
	if len(bad) > 0 {
		var findings []Finding
		for _, a := range bad {
			findings = append(findings, Finding{Object: "role " + n.RuntimeRole, Exposure: "has " + a + ": " + roleAttributes[a],
				Fix: fmt.Sprintf("ALTER ROLE %s NO%s", quote(n.RuntimeRole), a)})
		}
		d.r.Checks = append(d.r.Checks, Check{Name: "runtime attributes", Status: CheckFail, Findings: findings,
			Message: fmt.Sprintf("runtime role %s has %s", n.RuntimeRole, strings.Join(bad, ", ")),
			Hint:    fmt.Sprintf("ALTER ROLE %s NO%s", quote(n.RuntimeRole), strings.Join(bad, " NO"))})
	} else {
		d.r.add("runtime attributes", CheckOK, fmt.Sprintf("runtime role %s is not superuser, BYPASSRLS, CREATEROLE, CREATEDB or REPLICATION", n.RuntimeRole), "")
	}
	if !rr.Login {
		d.r.add("runtime login attribute", CheckFail, fmt.Sprintf("runtime role %s cannot log in (NOLOGIN)", n.RuntimeRole), "run `agent-mv apply`")
	}

	d.memberships(ctx)

	owner, err := RoleRightsOf(ctx, d.admin, n.OwnerRole)
	switch {
	case err != nil:
		d.errCheck("owner role", err)
	case !owner.Exists:
		d.r.add("owner role", CheckFail, fmt.Sprintf("owner role %s does not exist", n.OwnerRole), "run `agent-mv apply`")
	case owner.Superuser:
		d.r.add("owner role", CheckFail, fmt.Sprintf("owner role %s is a superuser", n.OwnerRole), fmt.Sprintf("ALTER ROLE %s NOSUPERUSER", quote(n.OwnerRole)))
	case owner.Login:
		d.r.add("owner role", CheckWarn, fmt.Sprintf("owner role %s can log in", n.OwnerRole), fmt.Sprintf("ALTER ROLE %s NOLOGIN", quote(n.OwnerRole)))
	default:
		d.r.add("owner role", CheckOK, fmt.Sprintf("owner role %s is NOLOGIN and not a superuser", n.OwnerRole), "")
	}
	return rr, true
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, s := range names {
		out[i] = quote(s)
	}
	return out
}

// quote quotes an identifier for the hints the doctor prints (never executed).
func quote(s string) string { return pgx.Identifier{s}.Sanitize() }

func (d doctor) function(ctx context.Context) {
	n := d.n
	var owner string
	var ownerSuper, secdef, publicExec, runtimeExec bool
	var config []string
	err := d.admin.QueryRow(ctx, `
SELECT pg_get_userbyid(p.proowner), r.rolsuper, p.prosecdef, coalesce(p.proconfig, '{}'),
       EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'),
       has_function_privilege($2, p.oid, 'EXECUTE')
  FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
 WHERE p.oid = to_regprocedure($1)`, n.function(), n.RuntimeRole).
		Scan(&owner, &ownerSuper, &secdef, &config, &publicExec, &runtimeExec)
	if err != nil {
		d.errCheck("function", err)
		return
	}
	fn := n.Schema + ".refresh_view(text)"
	var problems []string
	if ownerSuper {
		problems = append(problems, "its owner "+owner+" is a superuser")
	} else if owner != n.OwnerRole {
		problems = append(problems, fmt.Sprintf("it is owned by %s, not %s", owner, n.OwnerRole))
	}
	if !secdef {
		problems = append(problems, "it is not SECURITY DEFINER")
	}
	if !slices.Contains(config, "search_path=pg_catalog") {
		problems = append(problems, "it does not SET search_path = pg_catalog")
	}
	if publicExec {
		problems = append(problems, "PUBLIC can EXECUTE it")
	}
	if len(problems) > 0 {
		d.r.add("function", CheckFail, fn+": "+strings.Join(problems, "; "), "run `agent-mv apply` to recreate it")
	} else {
		d.r.add("function", CheckOK, fn+" is SECURITY DEFINER as "+owner+", EXECUTE revoked from PUBLIC", "")
	}
	if !runtimeExec {
		d.r.add("function grant", CheckFail, fmt.Sprintf("runtime role %s cannot EXECUTE %s", n.RuntimeRole, fn), "run `agent-mv apply`")
	}
}

func (d doctor) boundary(ctx context.Context) {
	n := d.n
	acc, err := RuntimeAccess(ctx, d.admin, n, n.RuntimeRole, d.managed)
	if err != nil {
		d.errCheck("access boundary", err)
		return
	}
	findings, err := relationFindings(ctx, d.admin, n.RuntimeRole, acc.Found)
	if err != nil {
		d.errCheck("access boundary", err)
		return
	}
	var reads, writes []Finding
	for i, f := range acc.Found {
		if f.Privileges[0] == "SELECT" {
			reads = append(reads, findings[i])
		}
		if len(f.Privileges) > 1 || f.Privileges[0] != "SELECT" {
			writes = append(writes, findings[i])
		}
	}
	if len(acc.Reads) > 0 {
		d.r.Checks = append(d.r.Checks, Check{Name: "access boundary", Status: CheckFail, Findings: reads,
			Message: "access boundary FAILED: runtime role can read " + listCap(acc.Reads, 10),
			Hint:    "revoke as shown; only managed views may be readable"})
	}
	if len(acc.Writes) > 0 {
		d.r.Checks = append(d.r.Checks, Check{Name: "access boundary writes", Status: CheckFail, Findings: writes,
			Message: "access boundary FAILED: runtime role can write " + listCap(acc.Writes, 10),
			Hint:    "revoke as shown"})
	}
	if len(acc.Reads) == 0 && len(acc.Writes) == 0 {
		d.r.add("access boundary", CheckOK,
			fmt.Sprintf("access boundary verified (runtime role cannot read base tables; %d relations checked)", acc.Checked), "")
	}
}

func listCap(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(" and %d more", len(items)-max)
}

func (d doctor) create(rr RoleRights) {
	n := d.n
	schemas, db, dbCreate := rr.CreateInSchemas, rr.Database, rr.CreateOnDatabase
	var problems []string
	var findings []Finding
	for _, s := range schemas {
		problems = append(problems, "CREATE in schema "+s)
		findings = append(findings, Finding{Object: "schema " + s, Exposure: "CREATE: it may create tables, functions and other objects there",
			Fix: fmt.Sprintf("REVOKE CREATE ON SCHEMA %s FROM PUBLIC, %s", quote(s), quote(n.RuntimeRole))})
	}
	if dbCreate {
		problems = append(problems, "CREATE on database "+db)
		findings = append(findings, Finding{Object: "database " + db, Exposure: "CREATE: it may create schemas and trusted extensions",
			Fix: fmt.Sprintf("REVOKE CREATE ON DATABASE %s FROM PUBLIC, %s", quote(db), quote(n.RuntimeRole))})
	}
	if len(problems) > 0 {
		hint := "revoke as shown"
		if slices.Contains(schemas, "public") {
			hint += "; `public_privileges: {revoke_create_on_public_schema: true}` in materialize.yaml lets apply revoke CREATE on schema public from PUBLIC (granted by default before PostgreSQL 15)"
		}
		d.r.Checks = append(d.r.Checks, Check{Name: "create", Status: CheckFail, Hint: hint, Findings: findings,
			Message: fmt.Sprintf("runtime role %s can create objects: %s", n.RuntimeRole, strings.Join(problems, "; "))})
		return
	}
	d.r.add("create", CheckOK, fmt.Sprintf("runtime role %s cannot create objects (no CREATE on any schema or the database)", n.RuntimeRole), "")
}

// doctorViewsSQL lists the materialized views in <S>, and the tables of incremental views,
// with whether the registry knows them as such (the "managed_relkind" definition).
var doctorViewsSQL = mustSQL("doctor_views", `
SELECT c.relname, c.relispopulated,
       EXISTS (SELECT 1 FROM {{.Views}} v WHERE v.name = c.relname
                  AND c.relkind = {{template "managed_relkind" "(pg_catalog.to_jsonb(v) ->> 'refresh_strategy')"}})
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
 WHERE ns.nspname = $1
   AND (c.relkind = 'm'
        OR (c.relkind = 'r' AND EXISTS (SELECT 1 FROM {{.Views}} v WHERE v.name = c.relname
                                           AND {{template "strategy_of" "v"}} = 'incremental')))`)

func (d doctor) views(ctx context.Context) {
	n := d.n
	type mv struct {
		populated, registered bool
	}
	rows, err := d.admin.Query(ctx, doctorViewsSQL.render(n), n.Schema)
	if err != nil {
		d.errCheck("views", err)
		return
	}
	found := map[string]mv{}
	for rows.Next() {
		var name string
		var m mv
		if err := rows.Scan(&name, &m.populated, &m.registered); err != nil {
			rows.Close()
			d.errCheck("views", err)
			return
		}
		found[name] = m
	}
	if err := rows.Err(); err != nil {
		d.errCheck("views", err)
		return
	}
	var missing, unregistered, unpopulated []string
	for _, v := range d.managed {
		m, ok := found[v]
		switch {
		case !ok:
			missing = append(missing, v)
		case !m.registered:
			unregistered = append(unregistered, v)
		case !m.populated:
			unpopulated = append(unpopulated, v)
		}
	}
	if len(missing) > 0 {
		d.r.add("views", CheckFail, "managed views missing from "+n.Schema+": "+strings.Join(missing, ", "), "run `agent-mv apply`")
	}
	if len(unregistered) > 0 {
		d.r.add("registry", CheckFail, "managed views not in "+n.Schema+".views (refresh would reject them): "+strings.Join(unregistered, ", "), "run `agent-mv apply`")
	}
	if len(unpopulated) > 0 {
		d.r.add("populated", CheckWarn, "views not populated yet (queries fail until refreshed): "+strings.Join(unpopulated, ", "), "run `agent-mv refresh NAME`")
	}
	if len(missing)+len(unregistered)+len(unpopulated) == 0 {
		d.r.add("views", CheckOK, fmt.Sprintf("%d managed views exist, registered and populated", len(d.managed)), "")
	}
}

// refreshModes reports how refresh_view will refresh each managed view (RefreshModes, the
// function's own rule). A view whose materialize.yaml declares a unique index but that cannot
// refresh CONCURRENTLY (the index was replaced, or is invalid) is a warning; the others are
// listed with their reasons.
func (d doctor) refreshModes(ctx context.Context) {
	modes, err := RefreshModes(ctx, d.admin, d.n, "")
	if err != nil {
		d.errCheck("refresh mode", err)
		return
	}
	recs, err := ReadRegistry(ctx, d.admin, d.n)
	if err != nil {
		d.errCheck("refresh mode", err)
		return
	}
	declared := map[string]bool{}
	incremental := map[string]bool{}
	for _, r := range recs {
		declared[r.Name] = slices.ContainsFunc(r.Indexes, func(ix Index) bool { return ix.Unique })
		incremental[r.Name] = r.Strategy() == StrategyIncremental
	}
	var concurrent, incr int
	var broken, blocking []string
	for _, v := range d.managed {
		m, ok := modes[v]
		switch {
		case incremental[v]:
			incr++ // readers are not blocked; the capture check covers it
		case !ok: // missing: the views check reports it
		case m.Concurrent:
			concurrent++
		case declared[v] && m.Reason != ReasonNotPopulated:
			broken = append(broken, v+" ("+m.Reason+")")
		default:
			blocking = append(blocking, v+" ("+m.Reason+")")
		}
	}
	msg := fmt.Sprintf("%d of %d managed views refresh CONCURRENTLY", concurrent, len(d.managed))
	if incr > 0 {
		msg += fmt.Sprintf(", %d incrementally", incr)
	}
	if len(blocking) > 0 {
		msg += "; refreshes of " + strings.Join(blocking, ", ") + " block readers"
	}
	if len(broken) > 0 {
		d.r.add("refresh mode", CheckWarn,
			"declared unique index cannot be used, so refreshes block readers: "+strings.Join(broken, ", ")+"; "+msg,
			"recreate the index as materialize.yaml declares it (drop it and run `agent-mv apply`); an invalid index means the view has duplicate keys: fix its SQL")
		return
	}
	d.r.add("refresh mode", CheckOK, msg, "")
}

// capture checks the change capture of the incremental views: ✗ when a view's capture is
// missing or disabled (writes to that table go unseen; refresh_view falls back to full
// refreshes until apply rebuilds the view), and ✗ when capture objects no view owns are left
// (writes pay for them for nothing; apply removes them).
func (d doctor) capture(ctx context.Context) {
	recs, err := ReadRegistry(ctx, d.admin, d.n)
	if err != nil {
		d.errCheck("capture", err)
		return
	}
	var incr int
	for _, r := range recs {
		if r.Strategy() == StrategyIncremental {
			incr++
		}
	}
	problems, err := CaptureProblems(ctx, d.admin, d.n, recs)
	if err != nil {
		d.errCheck("capture", err)
		return
	}
	orphans, err := FindOrphans(ctx, d.admin, d.n)
	if err != nil {
		d.errCheck("capture", err)
		return
	}
	for _, v := range slices.Sorted(maps.Keys(problems)) {
		d.r.add("capture", CheckFail, fmt.Sprintf("incremental view %s: %s; its refreshes are full ones until this is fixed", v, problems[v]),
			"run `agent-mv apply`: it rebuilds the view with its capture")
	}
	if !orphans.Empty() {
		d.r.add("capture", CheckFail, "change capture that no incremental view owns: "+orphans.String()+" (writes pay for it for nothing)",
			"run `agent-mv apply`: it removes capture no view needs")
	}
	if len(problems) == 0 && orphans.Empty() && incr > 0 {
		d.r.add("capture", CheckOK, fmt.Sprintf("change capture of %d incremental views is installed and enabled", incr), "")
	}
}

var readNothingSQL = mustSQL("read_nothing", `SELECT 1 FROM {{.Rel (index .Args 0)}} LIMIT 0`)

// runtime logs in as the runtime role and proves the allowed operations work.
func (d doctor) runtime(ctx context.Context, runtimeURL string) {
	n := d.n
	if runtimeURL == "" {
		d.r.add("runtime login", CheckFail, "AGENT_MV_RUNTIME_URL is not set; cannot verify the runtime role", "set AGENT_MV_RUNTIME_URL to a DSN for "+n.RuntimeRole)
		return
	}
	cfg, err := pgx.ParseConfig(runtimeURL)
	if err != nil {
		d.r.add("runtime login", CheckFail, fmt.Sprintf("AGENT_MV_RUNTIME_URL is not a valid DSN: %v", err), "")
		return
	}
	if strings.HasPrefix(cfg.Host, "/") {
		d.r.add("runtime tcp", CheckWarn, "AGENT_MV_RUNTIME_URL uses a Unix socket; password login over TCP not verified", "use host=<server> in AGENT_MV_RUNTIME_URL")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		hint := "check AGENT_MV_RUNTIME_URL; if the role's password changed, put the new one in AGENT_MV_RUNTIME_PASSWORD and AGENT_MV_RUNTIME_URL and run `agent-mv apply --rotate-password`"
		d.r.add("runtime login", CheckFail, fmt.Sprintf("runtime role cannot log in: %v", err), hint)
		return
	}
	defer conn.Close(context.Background())
	var who string
	if err := conn.QueryRow(cctx, `SELECT session_user`).Scan(&who); err != nil {
		d.r.add("runtime login", CheckFail, fmt.Sprintf("runtime connection failed: %v", err), "")
		return
	}
	if who != n.RuntimeRole {
		d.r.add("runtime login", CheckFail, fmt.Sprintf("AGENT_MV_RUNTIME_URL logs in as %s, not the runtime role %s", who, n.RuntimeRole), "point AGENT_MV_RUNTIME_URL at "+n.RuntimeRole)
		return
	}
	d.r.add("runtime login", CheckOK, fmt.Sprintf("runtime role %s logs in (%s)", who, cfg.Host), "")
	d.sessionDefaults(cctx, conn)

	// SELECT on every managed view and metadata table, reading no rows.
	var denied []string
	for _, rel := range append(MetadataTables(), d.managed...) {
		_, err := conn.Exec(cctx, readNothingSQL.render(n, rel), pgx.QueryExecModeExec)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "55000") { // 55000: not populated yet
			denied = append(denied, fmt.Sprintf("%s (%v)", rel, err))
		}
	}
	if len(denied) > 0 {
		d.r.add("runtime select", CheckFail, fmt.Sprintf("runtime role cannot read %s schema: %s", n.Schema, strings.Join(denied, "; ")), "run `agent-mv apply` to restore the grants")
	} else {
		d.r.add("runtime select", CheckOK, fmt.Sprintf("runtime role can SELECT the %d managed views and the metadata tables", len(d.managed)), "")
	}

	// EXECUTE: a name the registry cannot hold ('' fails its CHECK) is rejected by the allowlist,
	// which proves the call got past the privilege check without refreshing anything.
	var out []byte
	err = conn.QueryRow(cctx, n.RefreshViewSQL(), "").Scan(&out)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == SQLStateUnknownView:
		d.r.add("runtime execute", CheckOK, fmt.Sprintf("runtime role can EXECUTE %s.refresh_view (allowlist enforced)", n.Schema), "")
	case err == nil:
		d.r.add("runtime execute", CheckFail, fmt.Sprintf("%s.refresh_view('') did not reject an unknown name", n.Schema), "run `agent-mv apply` to recreate the function")
	default:
		d.r.add("runtime execute", CheckFail, fmt.Sprintf("runtime role cannot EXECUTE %s.refresh_view: %v", n.Schema, err), "run `agent-mv apply` to restore the grant")
	}
}
