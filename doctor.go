package agentmv

import (
	"context"
	"fmt"

	"github.com/agentmv/agentmv/boundary"
)

// Doctor checks agentmv's objects and proves the access boundary as the runtime role across the
// whole database: it logs in over TCP, reads every managed view, executes the refresh
// function, checks the role's limits and session defaults, and looks for every other path to
// data (relations, SECURITY DEFINER functions, large objects, foreign servers and user
// mappings, default privileges, memberships, owned objects, grants by name). Report.OK is false
// on any ✗; then it proves each agent's role reads exactly its views, has the runtime role's
// limits and no other path to data (boundary.DoctorAgents). Each finding carries the statement that removes it.
func (p *Project) Doctor(ctx context.Context) (boundary.Report, error) {
	pool, err := p.AdminPool(ctx)
	if err != nil {
		return boundary.Report{}, err
	}
	// One clear error when the admin cannot connect, rather than every check failing with the
	// driver's whole connect log.
	if err := pool.Ping(ctx); err != nil {
		return boundary.Report{}, fmt.Errorf("doctor: the admin connection (DATABASE_URL) fails: %w", err)
	}
	if p.settings.RuntimeURL == "" {
		return boundary.Report{}, ErrNoRuntimeURL
	}
	managed := make([]string, 0, len(p.cfg.Views))
	for _, v := range p.cfg.Views {
		managed = append(managed, v.Name)
	}
	r := boundary.Doctor(ctx, pool, p.settings.RuntimeURL, p.Names(), boundary.DoctorOptions{
		Managed:              managed,
		Limits:               p.roleLimits(),
		AllowSecurityDefiner: p.cfg.RuntimeRole.AllowSecurityDefiner,
		RevokeTemporary:      p.cfg.PublicPrivileges.RevokeTemporary,
	})
	agents := map[string][]string{}
	for _, a := range p.cfg.Agents {
		agents[a.Name] = a.Views
	}
	boundary.DoctorAgents(ctx, pool, p.Names(), agents, boundary.AgentDoctorOptions{
		Limits:   p.roleLimits(),
		Exposure: boundary.ExposureOptions{AllowSecurityDefiner: p.cfg.RuntimeRole.AllowSecurityDefiner},
	}, &r)
	if c, ok := boundary.CheckCronJobs(ctx, pool, p.Names(), p.cfg.Scheduler == SchedulerPgCron, p.cfg.schedules()); ok {
		r.Checks = append(r.Checks, c)
	}
	return r, nil
}

// roleLimits are the runtime role's limits from materialize.yaml (zero fields: defaults).
func (p *Project) roleLimits() boundary.RoleLimits {
	rc := p.cfg.RuntimeRole
	return boundary.RoleLimits{
		ConnectionLimit:          rc.ConnectionLimit,
		StatementTimeout:         rc.StatementTimeout,
		IdleInTransactionTimeout: rc.IdleInTransactionTimeout,
	}.WithDefaults()
}
