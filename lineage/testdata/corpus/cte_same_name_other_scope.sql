SELECT x.id, orders.amount
FROM (WITH orders AS (SELECT id FROM public.accounts) SELECT id FROM orders) x, orders
