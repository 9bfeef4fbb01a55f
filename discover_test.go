package agentmv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/lineage"
)

func TestDiscover(t *testing.T) {
	t.Parallel()
	pr := demoProject(t)
	pr.apply() // the target schema must not show up in discovery
	ctx := context.Background()
	if _, err := pr.admin.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	d, err := pr.open().Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var public []string
	for _, s := range d.Schemas {
		if s.Name == "agent_mv" {
			t.Error("discover lists the target schema")
		}
		if s.Name != "public" {
			continue
		}
		for _, tb := range s.Tables {
			public = append(public, tb.Name)
			if tb.Name == "orders" {
				if strings.Join(tb.PrimaryKey, ",") != "id" || len(tb.ForeignKeys) != 1 || tb.RowsEstimate == nil || *tb.RowsEstimate != 3 {
					t.Errorf("orders: %+v", tb)
				}
			}
		}
	}
	if got := strings.Join(public, ","); got != "order_items,orders,payments,products,users" {
		t.Errorf("public tables = %s", got)
	}
	names := map[string]bool{}
	for _, c := range d.Candidates {
		// Every candidate is a valid view body that Postgres accepts.
		if _, err := lineage.Parse(c.SQL); err != nil {
			t.Errorf("candidate %s does not parse: %v\n%s", c.Name, err, c.SQL)
			continue
		}
		tx, err := pr.admin.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "CREATE MATERIALIZED VIEW "+pgx.Identifier{c.Name}.Sanitize()+" AS "+c.SQL); err != nil {
			t.Errorf("candidate %s is rejected by Postgres: %v\n%s", c.Name, err, c.SQL)
		}
		_ = tx.Rollback(ctx)
		names[c.Name] = true
	}
	for _, want := range []string{"users_orders_rollup", "orders_payments_rollup", "products_order_items_rollup"} {
		if _, ok := names[want]; !ok {
			t.Errorf("no candidate %s among %v", want, names)
		}
	}
}
