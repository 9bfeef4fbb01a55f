package boundary

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DoctorAgents proves each agent's boundary like the runtime role's, from the catalogs (as
// the admin): its role exists and logs in, has no dangerous attribute, belongs to no role,
// can read its views, and can read nothing else (no other managed view, no base table) and
// write nothing. agents maps each configured agent to its views. It appends one check per
// agent to r (nothing when there are no agents).
func DoctorAgents(ctx context.Context, admin Querier, n Names, agents map[string][]string, r *Report) {
	for _, agent := range slices.Sorted(maps.Keys(agents)) {
		views := agents[agent]
		role := AgentRoleName(n, agent)
		name := "agent " + agent
		rr, err := RoleRightsOf(ctx, admin, role)
		if err != nil {
			r.add(name, CheckFail, fmt.Sprintf("agent %s: %v", agent, err), "")
			continue
		}
		if !rr.Exists {
			r.add(name, CheckFail, fmt.Sprintf("agent %s: its role %s does not exist", agent, role), "run `agent-mv apply`")
			continue
		}
		var problems, hints []string
		for _, a := range []struct {
			on   bool
			attr string
		}{{rr.Superuser, "SUPERUSER"}, {rr.BypassRLS, "BYPASSRLS"}, {rr.CreateRole, "CREATEROLE"}, {rr.CreateDB, "CREATEDB"}, {rr.Replication, "REPLICATION"}} {
			if a.on {
				problems = append(problems, "has "+a.attr)
				hints = append(hints, fmt.Sprintf("ALTER ROLE %s NO%s", quote(role), a.attr))
			}
		}
		if !rr.Login {
			problems = append(problems, "cannot log in")
			hints = append(hints, "run `agent-mv apply`")
		}
		if len(rr.CreateInSchemas) > 0 || rr.CreateOnDatabase { // TEMP follows public_privileges, as for the runtime role
			problems = append(problems, "can create objects")
			hints = append(hints, "revoke CREATE from PUBLIC and "+quote(role))
		}
		rows, err := admin.Query(ctx, `SELECT r.rolname FROM pg_catalog.pg_roles r
 WHERE r.rolname <> $1 AND pg_catalog.pg_has_role($1, r.oid, 'MEMBER') ORDER BY 1`, role)
		if err != nil {
			r.add(name, CheckFail, fmt.Sprintf("agent %s: read memberships: %v", agent, err), "")
			continue
		}
		member, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			r.add(name, CheckFail, fmt.Sprintf("agent %s: read memberships: %v", agent, err), "")
			continue
		}
		if len(member) > 0 {
			problems = append(problems, "is a member of "+strings.Join(member, ", "))
			hints = append(hints, fmt.Sprintf("REVOKE %s FROM %s", strings.Join(quoteAll(member), ", "), quote(role)))
		}
		acc, err := RuntimeAccess(ctx, admin, n, role, views)
		if err != nil {
			r.add(name, CheckFail, fmt.Sprintf("agent %s: %v", agent, err), "")
			continue
		}
		if len(acc.Reads) > 0 {
			problems = append(problems, "can read "+listCap(acc.Reads, 10))
			hints = append(hints, fmt.Sprintf("REVOKE SELECT ON those FROM PUBLIC, %s (or run `agent-mv apply`); an agent may read only its views", quote(role)))
		}
		if len(acc.Writes) > 0 {
			problems = append(problems, "can write "+listCap(acc.Writes, 10))
			hints = append(hints, fmt.Sprintf("revoke those privileges from PUBLIC and %s", quote(role)))
		}
		var denied []string
		for _, v := range views {
			var ok bool
			err := admin.QueryRow(ctx, `SELECT coalesce(pg_catalog.has_table_privilege($1, pg_catalog.to_regclass($2), 'SELECT'), false)`,
				role, quote(n.Schema)+"."+quote(v)).Scan(&ok)
			if err != nil || !ok {
				denied = append(denied, v)
			}
		}
		if len(denied) > 0 {
			problems = append(problems, "cannot read its views "+strings.Join(denied, ", "))
			hints = append(hints, "run `agent-mv apply`")
		}
		if len(problems) > 0 {
			r.add(name, CheckFail, fmt.Sprintf("agent %s (role %s) %s", agent, role, strings.Join(problems, "; ")), strings.Join(hints, "; "))
			continue
		}
		r.add(name, CheckOK, fmt.Sprintf("agent %s (role %s) reads exactly its %d views (%d relations checked)", agent, role, len(views), acc.Checked), "")
	}
}
