package boundary

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// AgentDoctorOptions are what DoctorAgents expects of every agent's role besides its views:
// the runtime role's limits and security-definer allowlist apply to agents too.
type AgentDoctorOptions struct {
	// Limits are the role limits apply sets (zero fields: the defaults).
	Limits RoleLimits
	// Exposure are the expected rights passed to Exposures.
	Exposure ExposureOptions
}

// DoctorAgents proves each agent's boundary like the runtime role's, from the catalogs (as
// the admin): its role exists and logs in, has no dangerous attribute, belongs to no role,
// can read its views, and can read nothing else (no other managed view, no base table) and
// write nothing; it has the runtime role's limits (connection limit, session defaults); and
// the whole-database probes (Exposures) find no other path to data for it. agents maps each
// configured agent to its views. It appends checks named "agent <name>…" to r (nothing when
// there are no agents).
func DoctorAgents(ctx context.Context, admin Querier, n Names, agents map[string][]string, opts AgentDoctorOptions, r *Report) {
	for _, agent := range slices.Sorted(maps.Keys(agents)) {
		if doctorAgent(ctx, admin, n, agent, agents[agent], r) {
			agentLimits(ctx, admin, agent, AgentRoleName(n, agent), opts.Limits, r)
			agentExposures(ctx, admin, n, agent, opts.Exposure, r)
			roleSessions(ctx, admin, n, "agent "+agent+" sessions", AgentRoleName(n, agent), opts.Limits, r)
		}
	}
}

// doctorAgent checks agent's role and privileges; false when the role is missing (the other
// checks would only repeat it).
func doctorAgent(ctx context.Context, admin Querier, n Names, agent string, views []string, r *Report) bool {
	role := AgentRoleName(n, agent)
	name := "agent " + agent
	rr, err := RoleRightsOf(ctx, admin, role)
	if err != nil {
		r.add(name, CheckFail, fmt.Sprintf("agent %s: %v", agent, err), "")
		return false
	}
	if !rr.Exists {
		r.add(name, CheckFail, fmt.Sprintf("agent %s: its role %s does not exist", agent, role), "run `agent-mv apply`")
		return false
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
		return true
	}
	member, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		r.add(name, CheckFail, fmt.Sprintf("agent %s: read memberships: %v", agent, err), "")
		return true
	}
	if len(member) > 0 {
		problems = append(problems, "is a member of "+strings.Join(member, ", "))
		hints = append(hints, fmt.Sprintf("REVOKE %s FROM %s", strings.Join(quoteAll(member), ", "), quote(role)))
	}
	acc, err := RuntimeAccess(ctx, admin, n, role, views)
	if err != nil {
		r.add(name, CheckFail, fmt.Sprintf("agent %s: %v", agent, err), "")
		return true
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
		return true
	}
	r.add(name, CheckOK, fmt.Sprintf("agent %s (role %s) reads exactly its %d views (%d relations checked)", agent, role, len(views), acc.Checked), "")
	return true
}

// agentLimits checks that agent's role has the limits apply sets on every agentmv role.
func agentLimits(ctx context.Context, admin Querier, agent, role string, l RoleLimits, r *Report) {
	name := "agent " + agent + " limits"
	findings, err := roleLimitFindings(ctx, admin, role, l)
	if err != nil {
		r.add(name, CheckFail, fmt.Sprintf("agent %s: %v", agent, err), "")
		return
	}
	if len(findings) > 0 {
		r.Checks = append(r.Checks, Check{Name: name, Status: CheckFail, Findings: findings,
			Message: fmt.Sprintf("agent %s (role %s) lacks the limits apply sets on the runtime role", agent, role),
			Hint:    "run `agent-mv apply` (runtime_role in materialize.yaml sets the limits), or the fixes shown"})
		return
	}
	l = l.WithDefaults()
	r.add(name, CheckOK, fmt.Sprintf("agent %s (role %s) may open at most %d connections; its sessions start read-only with statement_timeout %s and idle_in_transaction_session_timeout %s",
		agent, role, l.ConnectionLimit, l.StatementTimeout, l.IdleInTransactionTimeout), "")
}

// agentExposures runs the whole-database probes for agent's role (AgentExposures): every
// probe that finds something is its own check; the rest are summed up in one.
func agentExposures(ctx context.Context, admin Querier, n Names, agent string, opts ExposureOptions, r *Report) {
	checks, err := AgentExposures(ctx, admin, n, agent, opts)
	if err != nil {
		r.add("agent "+agent+" exposures", CheckFail, fmt.Sprintf("agent %s: exposures probe failed: %v", agent, err), "check that DATABASE_URL connects as an administrator")
		return
	}
	var clean []string
	for _, c := range checks {
		if c.Status == CheckOK {
			clean = append(clean, strings.TrimPrefix(c.Name, "agent "+agent+": "))
			continue
		}
		r.Checks = append(r.Checks, c)
	}
	if len(clean) > 0 {
		r.add("agent "+agent+" exposures", CheckOK, fmt.Sprintf("no other path to data for agent %s's role %s (%s)", agent, AgentRoleName(n, agent), strings.Join(clean, ", ")), "")
	}
}

// AgentExposures runs Exposures for agent's role, the same probes as for the runtime role,
// with each check named "agent <name>: <probe>". The allowlist warning (about
// materialize.yaml, not the role) is left to the runtime role's run.
func AgentExposures(ctx context.Context, q Reader, n Names, agent string, opts ExposureOptions) ([]Check, error) {
	checks, err := Exposures(ctx, q, n, AgentRoleName(n, agent), opts)
	if err != nil {
		return nil, err
	}
	out := checks[:0]
	for _, c := range checks {
		if c.Name == allowlistCheck {
			continue
		}
		c.Name = "agent " + agent + ": " + c.Name
		out = append(out, c)
	}
	return out, nil
}
