package agentmv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/tools"
)

// TestDoctorAndSelfCheckCountTheSamePrivileges plants, one at a time, each privilege the
// runtime role must not hold (boundary.RuntimeWritePrivileges, table and column grants) and
// requires both the doctor (as the admin) and the runtime servers' self-check (as the runtime
// role over TCP) to name the relation and the privilege.
func TestDoctorAndSelfCheckCountTheSamePrivileges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pr := demoProject(t)
	pr.apply()
	p := pr.open()
	rt := pgx.Identifier{pr.settings.RuntimeRole}.Sanitize()
	cases := []struct{ grant, revoke, want string }{
		{"GRANT INSERT ON public.payments TO " + rt, "REVOKE INSERT ON public.payments FROM " + rt, "public.payments (INSERT)"},
		{"GRANT UPDATE (amount_cents) ON public.payments TO " + rt, "REVOKE UPDATE (amount_cents) ON public.payments FROM " + rt, "public.payments (UPDATE)"},
		{"GRANT DELETE ON public.payments TO " + rt, "REVOKE DELETE ON public.payments FROM " + rt, "public.payments (DELETE)"},
		{"GRANT TRUNCATE ON public.payments TO " + rt, "REVOKE TRUNCATE ON public.payments FROM " + rt, "public.payments (TRUNCATE)"},
		{"GRANT REFERENCES ON public.users TO " + rt, "REVOKE REFERENCES ON public.users FROM " + rt, "public.users (REFERENCES)"},
		{"GRANT REFERENCES (id) ON public.users TO PUBLIC", "REVOKE REFERENCES (id) ON public.users FROM PUBLIC", "public.users (REFERENCES)"},
		{"GRANT TRIGGER ON public.orders TO PUBLIC", "REVOKE TRIGGER ON public.orders FROM PUBLIC", "public.orders (TRIGGER)"},
		{"GRANT USAGE ON SEQUENCE public.orders_id_seq TO " + rt, "REVOKE USAGE ON SEQUENCE public.orders_id_seq FROM " + rt, "public.orders_id_seq (USAGE)"},
	}
	// MAINTAIN (VACUUM, ANALYZE, REFRESH, REINDEX, CLUSTER, LOCK TABLE) exists from 17 on.
	version := pr.db.ServerVersionNum(t)
	if version >= 170000 {
		cases = append(cases, struct{ grant, revoke, want string }{
			"GRANT MAINTAIN ON public.orders TO PUBLIC", "REVOKE MAINTAIN ON public.orders FROM PUBLIC", "public.orders (MAINTAIN)"})
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.want[strings.Index(c.want, "(")+1:len(c.want)-1]] = true
	}
	for _, priv := range boundary.RuntimeWritePrivileges() {
		if !covered[priv] && !(priv == "MAINTAIN" && version < 170000) {
			t.Errorf("no case plants %s", priv)
		}
	}
	runtimePool := pr.db.PoolFor(t, pr.settings.RuntimeURL)
	for _, c := range cases {
		pr.db.Exec(t, c.grant)
		rep, err := p.Doctor(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() || !strings.Contains(rep.String(), "runtime role can write "+c.want) {
			t.Errorf("doctor after %q does not report %s:\n%s", c.grant, c.want, rep)
		}
		err = tools.CheckRuntimeRole(ctx, runtimePool, "agent_mv")
		if err == nil || !strings.Contains(err.Error(), "can write "+c.want) {
			t.Errorf("self-check after %q: %v, want a refusal naming %s", c.grant, err, c.want)
		}
		pr.db.Exec(t, c.revoke)
	}
	if err := tools.CheckRuntimeRole(ctx, runtimePool, "agent_mv"); err != nil {
		t.Errorf("self-check after the revokes: %v", err)
	}
	if rep, err := p.Doctor(ctx); err != nil || !rep.OK() {
		t.Errorf("doctor after the revokes: %v\n%s", err, rep)
	}
}
