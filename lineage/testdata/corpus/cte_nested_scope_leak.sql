SELECT * FROM (WITH t AS (SELECT id FROM public.users) SELECT id FROM t) x, t
