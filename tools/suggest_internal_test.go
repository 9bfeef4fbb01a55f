package tools

import (
	"slices"
	"testing"
)

func TestSuggestUniqueIndex(t *testing.T) {
	pk := func(schema, table string) []string {
		if table == "orders" {
			return []string{"id"}
		}
		return nil
	}
	cases := []struct {
		sql     string
		outputs []string
		want    []string
	}{
		{"SELECT day, sum(amount) AS revenue FROM orders GROUP BY day", []string{"day", "revenue"}, []string{"day"}},
		{"SELECT c.id AS customer_id, c.name, count(*) AS n FROM customers c JOIN orders o ON o.cid = c.id GROUP BY c.id, c.name", []string{"customer_id", "name", "n"}, []string{"customer_id", "name"}},
		{"SELECT region, day, count(*) AS n FROM orders GROUP BY 1, 2", []string{"region", "day", "n"}, []string{"region", "day"}},
		{"SELECT DISTINCT region, day FROM orders", []string{"region", "day"}, []string{"region", "day"}},
		{"SELECT id, amount FROM orders WHERE amount > 0", []string{"id", "amount"}, []string{"id"}},
		{"SELECT o.id AS order_id, amount FROM public.orders o", []string{"order_id", "amount"}, []string{"order_id"}},
		{"SELECT * FROM orders", []string{"id", "amount"}, []string{"id"}},
		{"SELECT date_trunc('day', ts) AS d, count(*) AS n FROM orders GROUP BY date_trunc('day', ts)", []string{"d", "n"}, nil},
		{"SELECT region, count(*) AS n FROM orders GROUP BY ROLLUP (region)", []string{"region", "n"}, nil},
		{"SELECT amount FROM orders", []string{"amount"}, nil},
		{"SELECT o.id FROM orders o JOIN items i ON i.oid = o.id", []string{"id"}, nil},
		{"SELECT DISTINCT ON (region) region, day FROM orders", []string{"region", "day"}, nil},
		{"SELECT 1 AS a UNION SELECT 2", []string{"a"}, nil},
	}
	for _, c := range cases {
		got := suggestUniqueIndex(c.sql, c.outputs, pk)
		var cols []string
		if got != nil {
			cols = got.Columns
			if !got.Unique || got.Reason == "" {
				t.Errorf("%s: %+v", c.sql, got)
			}
		}
		if !slices.Equal(cols, c.want) {
			t.Errorf("%s: got %v, want %v", c.sql, cols, c.want)
		}
	}
}
