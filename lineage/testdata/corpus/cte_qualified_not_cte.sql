WITH orders AS (SELECT 1 AS id) SELECT * FROM public.orders
