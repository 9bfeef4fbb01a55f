package agentmv_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/connerr"
)

// saasSchema is the walk-through's database (issue 14): a quoted mixed-case table, a
// partitioned table, a second schema, a plain view and a table with secret-looking columns.
const saasSchema = `
CREATE SCHEMA billing;
CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL, plan text NOT NULL);
CREATE TABLE users (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts, email text NOT NULL, password_hash text NOT NULL, api_token text);
CREATE TABLE "UserEvents" (id bigserial PRIMARY KEY, "userId" bigint NOT NULL, "occurredAt" timestamptz NOT NULL);
CREATE TABLE events (id bigserial, account_id bigint NOT NULL, kind text NOT NULL, occurred_at timestamptz NOT NULL, PRIMARY KEY (id, occurred_at)) PARTITION BY RANGE (occurred_at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE billing.invoices (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts, amount_cents bigint NOT NULL);
CREATE VIEW active_accounts AS SELECT a.* FROM accounts a WHERE EXISTS (SELECT 1 FROM users u WHERE u.account_id = a.id);
INSERT INTO accounts (name, plan) SELECT 'acct ' || g, 'pro' FROM generate_series(1, 5) g;
INSERT INTO users (account_id, email, password_hash) SELECT 1 + g % 5, 'u' || g || '@example.com', md5(g::text) FROM generate_series(1, 20) g;
INSERT INTO "UserEvents" ("userId", "occurredAt") SELECT g, '2026-06-01' FROM generate_series(1, 20) g;
INSERT INTO events (account_id, kind, occurred_at) SELECT 1 + g % 5, 'login', '2026-06-01' FROM generate_series(1, 20) g;
INSERT INTO billing.invoices (account_id, amount_cents) SELECT 1 + g % 5, 100 * g FROM generate_series(1, 20) g;
`

// TestWalkthroughSaaSSchema applies the walk-through's views and checks what it turned up:
// the dashboard names each source for what it is (a plain view is not a "base table"), and
// column lineage follows a count(*) scalar subquery to the columns that choose its rows.
func TestWalkthroughSaaSSchema(t *testing.T) {
	t.Parallel()
	pr := newProject(t, saasSchema)
	views := map[string]string{
		"account_users":   `SELECT a.id AS account_id, a.name, (SELECT count(*) FROM users u WHERE u.account_id = a.id) AS user_count FROM accounts a`,
		"account_billing": `SELECT aa.id AS account_id, sum(i.amount_cents) AS billed_cents FROM active_accounts aa LEFT JOIN billing.invoices i ON i.account_id = aa.id GROUP BY aa.id`,
		"daily_events":    `SELECT occurred_at::date AS day, kind, count(*) AS n FROM events GROUP BY 1, 2`,
		"user_activity":   `SELECT e."userId" AS user_id, count(*) AS events FROM "UserEvents" e GROUP BY 1`,
	}
	yaml := "version: 1\ntarget_schema: agent_mv\nviews:\n"
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range views {
			if !yield(k) {
				return
			}
		}
	}) {
		pr.write("materialize/"+name+".sql", views[name]+"\n")
		yaml += "  - name: " + name + "\n    sql_file: materialize/" + name + ".sql\n    description: " + name + "\n"
	}
	pr.write("materialize.yaml", yaml)
	pr.apply()
	ctx := context.Background()
	p := pr.open()

	st, err := p.DashboardState(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, e := range st.Edges {
		if e.FromKind == "table" {
			kinds[e.From] = e.FromRelkind
		}
	}
	want := map[string]string{"public.accounts": "table", "public.users": "table", "public.active_accounts": "view",
		"billing.invoices": "table", "public.events": "partitioned table", "public.UserEvents": "table"}
	for src, k := range want {
		if kinds[src] != k {
			t.Errorf("dashboard source %s is a %q, want %q (all: %v)", src, kinds[src], k, kinds)
		}
	}
	var html bytes.Buffer
	if err := p.BuildDashboard(ctx, &html, time.Now()); err != nil {
		t.Fatal(err)
	}
	if s := html.String(); strings.Contains(s, "public.active_accounts (base table)") || !strings.Contains(s, "public.active_accounts (view not managed by agentmv)") ||
		!strings.Contains(s, "public.events (partitioned table)") {
		t.Errorf("the dashboard misnames the sources:\n%s", s)
	}

	// Column lineage as recorded by apply, read as the runtime role would.
	l, err := boundary.LineageOf(ctx, pr.admin, p.Names(), "account_users")
	if err != nil {
		t.Fatal(err)
	}
	var userCount []string
	for _, c := range l.Columns {
		if c.Column == "user_count" {
			userCount = c.Sources
		}
	}
	if !slices.Equal(userCount, []string{"public.accounts.id", "public.users.account_id"}) {
		t.Errorf("column lineage of user_count = %v, want the columns that choose the counted rows (%+v)", userCount, l.Columns)
	}
}

// TestDoctorWrongAdminPassword: doctor with an admin DSN whose password is wrong fails once,
// leading with the real cause, instead of failing every check with the driver's connect log
// ("tls error: server refused TLS connection" first).
func TestDoctorWrongAdminPassword(t *testing.T) {
	t.Parallel()
	pr := newProject(t, "")
	pr.write("materialize.yaml", "version: 1\ntarget_schema: agent_mv\nviews: []\n")
	pr.settings.DatabaseURL = pr.db.URL(pr.settings.RuntimeRole, "wrong-password")
	_, err := pr.open().Doctor(context.Background())
	if err == nil {
		t.Fatal("doctor with a wrong admin password succeeded")
	}
	msg := connerr.Text(err)
	if !strings.HasPrefix(msg, "doctor: the admin connection (DATABASE_URL) fails: cannot connect as user "+pr.settings.RuntimeRole) ||
		!strings.Contains(msg, "password authentication failed") || strings.Contains(msg, "tls error") || strings.Contains(msg, "\n") {
		t.Errorf("doctor's error: %q", msg)
	}
}

// TestApplyRewritesLineageWhenRulesChange: a registry written under older lineage rules (here:
// the source hash as it was recorded before lineage.RulesVersion, and the column lineage that
// missed a count(*) subquery) gets the current lineage at the next apply, without rebuilding the
// view; the apply after that changes nothing.
func TestApplyRewritesLineageWhenRulesChange(t *testing.T) {
	t.Parallel()
	pr := newProject(t, saasSchema)
	sql := `SELECT a.id AS account_id, (SELECT count(*) FROM users u WHERE u.account_id = a.id) AS user_count FROM accounts a` + "\n"
	pr.write("materialize/account_users.sql", sql)
	pr.write("materialize.yaml", "version: 1\ntarget_schema: agent_mv\nviews:\n  - name: account_users\n    sql_file: materialize/account_users.sql\n    description: users per account\n")
	pr.apply()
	ctx := context.Background()
	oid := func() uint32 {
		var o uint32
		if err := pr.admin.QueryRow(ctx, `SELECT 'agent_mv.account_users'::regclass::oid`).Scan(&o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	before := oid()
	sum := sha256.Sum256([]byte(sql)) // what apply recorded before the rules had a version
	if _, err := pr.admin.Exec(ctx, `UPDATE agent_mv.views SET source_sha256 = $1 WHERE name = 'account_users'`, hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.admin.Exec(ctx, `DELETE FROM agent_mv.column_lineage WHERE view_name = 'account_users' AND view_column = 'user_count'`); err != nil {
		t.Fatal(err)
	}
	userCount := func() []string {
		l, err := boundary.LineageOf(ctx, pr.admin, pr.open().Names(), "account_users")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.Columns {
			if c.Column == "user_count" {
				return c.Sources
			}
		}
		return nil
	}
	if got := userCount(); got != nil {
		t.Fatalf("the old registry was not planted: %v", got)
	}
	res := pr.apply()
	if got := userCount(); !slices.Equal(got, []string{"public.accounts.id", "public.users.account_id"}) {
		t.Errorf("after apply under the new rules, user_count <- %v", got)
	}
	if oid() != before || !strings.Contains(res.Plan.String(), "1 unchanged") {
		t.Errorf("the view was rebuilt (oid %d -> %d):\n%s", before, oid(), res.Plan)
	}
	if res := pr.apply(); !strings.Contains(res.Plan.String(), "1 unchanged") || oid() != before {
		t.Errorf("the next apply is not a no-op:\n%s", res.Plan)
	}
}
