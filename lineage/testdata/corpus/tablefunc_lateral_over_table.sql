SELECT o.id, s.n FROM orders o CROSS JOIN LATERAL generate_series(1, o.amount::int) AS s(n)
