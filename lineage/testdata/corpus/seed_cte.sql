WITH active AS (SELECT id FROM public.users WHERE created_at > now() - interval '30 days')
SELECT a.id, sum(o.total) AS total FROM active a JOIN public.orders o ON o.user_id = a.id GROUP BY a.id
