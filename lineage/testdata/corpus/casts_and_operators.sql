SELECT amount::numeric(12, 2) AS amt, CAST(created_at AS date), id || '-' || status AS label
FROM orders
