package dashboard

import (
	"fmt"
	"time"
)

var fixedNow = time.Date(2026, 4, 26, 7, 33, 12, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// demoState is a fixed state resembling examples/demo: three views over three base tables,
// one view on a view, one failed refresh and one stale view.
func demoState() State {
	at := func(d time.Duration) time.Time { return fixedNow.Add(-d) }
	s := State{
		GeneratedAt: fixedNow,
		Schema:      "agent_mv",
		Views: []View{
			{
				Name: "top_customers_30d", Description: "Top 20 customers by revenue over the last 30 days of data.",
				Populated: true, RowsAfter: ptr[int64](20), LastStatus: "failed",
				LastError: `permission denied for table orders (SQLSTATE 42501)`,
				LastMode:  "blocking", ModeReason: "no unique index",
				LastRefreshedAt: ptr(at(26 * time.Hour)), LastDurationMs: ptr[int64](41),
				Upstream: []string{"customer_rollup", "public.orders"},
			},
			{
				Name: "customer_rollup", Description: "Lifetime order count and revenue per customer.", Running: true,
				Columns:   []Column{{"orders", "Orders placed, paid or not"}, {"revenue", "Sum of payments, in <cents> & \"euros\""}},
				Populated: true, RowsAfter: ptr[int64](12_500), LastStatus: "success",
				LastMode: "concurrent", ModeReason: "unique index customer_rollup_customer_id_idx",
				LastRefreshedAt: ptr(at(6 * time.Minute)), LastDurationMs: ptr[int64](1840),
				MaxStaleness: time.Hour, RefreshEvery: 15 * time.Minute, NextDueAt: ptr(at(-9 * time.Minute)),
				Upstream: []string{"public.customers", "public.order_items", "public.orders"},
			},
			{
				Name: "daily_revenue", Description: "Revenue and order count per calendar day.",
				Populated: true, RowsAfter: ptr[int64](365), LastStatus: "success",
				LastMode: "concurrent", ModeReason: "unique index daily_revenue_day_idx",
				LastRefreshedAt: ptr(at(3*time.Hour + 10*time.Minute)), LastDurationMs: ptr[int64](612),
				Stale: true, MaxStaleness: 90 * time.Minute, RefreshEvery: time.Hour,
				Upstream: []string{"public.order_items", "public.orders"},
			},
			{
				Name: "product_catalog", Description: "Products with their category (not refreshed yet).",
				Upstream: []string{"public.products"},
			},
		},
		Edges: []Edge{
			{From: "public.orders", To: "customer_rollup", FromKind: "table"},
			{From: "public.customers", To: "customer_rollup", FromKind: "table"},
			{From: "public.order_items", To: "customer_rollup", FromKind: "table"},
			{From: "public.orders", To: "daily_revenue", FromKind: "table"},
			{From: "public.order_items", To: "daily_revenue", FromKind: "table"},
			{From: "customer_rollup", To: "top_customers_30d", FromKind: "view"},
			{From: "public.orders", To: "top_customers_30d", FromKind: "table"},
			{From: "public.products", To: "product_catalog", FromKind: "table"},
		},
		Tools: []Tool{
			{Name: "revenue_on", Description: "Revenue per product on the given days.", Reads: []string{"daily_revenue"},
				Parameters: []Param{{Name: "days", Type: "date[]", Required: true, Description: "The days to report (UTC)"},
					{Name: "top", Type: "integer", Default: "10"}}},
			{Name: "customer_by_email", Description: "One customer's <orders> & spend, by email.", Reads: []string{"customer_rollup", "top_customers_30d"},
				Parameters: []Param{{Name: "email", Type: "string", Required: true}}},
			{Name: "biggest_days", Description: "The five biggest days.", Reads: []string{"daily_revenue"}},
		},
	}
	durations := map[string][]int64{
		"customer_rollup":   {1620, 1710, 1650, 2400, 1800, 1790, 1840},
		"daily_revenue":     {580, 601, 640, 598, 612},
		"top_customers_30d": {35, 38, 44, 41},
	}
	for _, v := range []string{"customer_rollup", "daily_revenue", "top_customers_30d"} {
		ds := durations[v]
		for i, ms := range ds {
			started := at(time.Duration(len(ds)-i)*time.Hour + time.Duration(len(v))*time.Minute)
			fin := started.Add(time.Duration(ms) * time.Millisecond)
			r := Run{View: v, StartedAt: started, FinishedAt: &fin, Status: "success",
				DurationMs: ptr(ms), RowsAfter: ptr[int64](int64(100 * (i + 1))), Mode: "concurrent"}
			if v == "top_customers_30d" && i == len(ds)-1 {
				r.Status, r.Error, r.RowsAfter, r.Mode = "failed", "permission denied for table orders (SQLSTATE 42501)", nil, "blocking"
			}
			s.History = append(s.History, r)
		}
	}
	s.History = append(s.History, Run{View: "customer_rollup", StartedAt: at(5 * time.Second), Status: "running", Mode: "concurrent"})
	return s
}

// bigState has n views over n/4 base tables, every fifth view reading another view, and h
// history rows spread over the views.
func bigState(n, h int) State {
	s := State{GeneratedAt: fixedNow, Schema: "agent_mv"}
	tables := max(n/4, 1)
	for i := range n {
		name := fmt.Sprintf("view_%04d", i)
		v := View{Name: name, Description: "Synthetic view " + name, Populated: true,
			RowsAfter: ptr(int64(i * 37)), LastStatus: "success", LastMode: "concurrent",
			LastRefreshedAt: ptr(fixedNow.Add(-time.Duration(i) * time.Minute)), LastDurationMs: ptr(int64(100 + i))}
		if i%50 == 7 {
			v.LastStatus, v.LastError = "failed", "canceling statement due to statement timeout"
		}
		if i%30 == 3 {
			v.Stale = true
		}
		for _, t := range []int{i % tables, (i * 7) % tables} {
			tn := fmt.Sprintf("public.table_%03d", t)
			s.Edges = append(s.Edges, Edge{From: tn, To: name, FromKind: "table"})
			v.Upstream = append(v.Upstream, tn)
		}
		if i%5 == 4 {
			dep := fmt.Sprintf("view_%04d", i-1-i%3)
			s.Edges = append(s.Edges, Edge{From: dep, To: name, FromKind: "view"})
			v.Upstream = append(v.Upstream, dep)
		}
		s.Views = append(s.Views, v)
	}
	for i := range h {
		started := fixedNow.Add(-time.Duration(i) * time.Minute)
		fin := started.Add(time.Duration(50+i%700) * time.Millisecond)
		r := Run{View: fmt.Sprintf("view_%04d", i%n), StartedAt: started, FinishedAt: &fin, Status: "success",
			DurationMs: ptr(int64(50 + i%700)), RowsAfter: ptr(int64(i)), Mode: "concurrent"}
		if i%97 == 0 {
			r.Status, r.Error = "failed", "deadlock detected"
		}
		s.History = append(s.History, r)
	}
	return s
}
