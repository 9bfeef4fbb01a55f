-- SELECT o.id, o.amount, c.name FROM orders o JOIN customers c ON c.id = o.customer_id
-- rows of changed public.orders keys (id) recomputed; captures public.customers, public.orders
WITH "$c1" AS (DELETE FROM agent_mv."v$log1" RETURNING *),
"$c2" AS (DELETE FROM agent_mv."v$log2" RETURNING *),
"$r" AS (SELECT "id" FROM "$c2" WHERE "$img" <> 't'
UNION
SELECT o.id AS id FROM public.orders o JOIN (SELECT id, name FROM "$c1" WHERE "$img" <> 't') c ON c.id = o.customer_id),
"$del" AS (DELETE FROM agent_mv.v WHERE ctid = ANY (ARRAY(SELECT "$s".ctid FROM "$r", LATERAL (SELECT ctid FROM agent_mv.v WHERE "id" = "$r"."id" OFFSET 0) "$s")) RETURNING 1),
"$ins" AS (INSERT INTO agent_mv.v SELECT * FROM (SELECT o.id, o.amount, c.name FROM public.orders o JOIN public.customers c ON c.id = o.customer_id WHERE o.id IN (SELECT id FROM "$r")) "$q" WHERE (SELECT count(*) FROM "$del") >= 0 RETURNING 1)
SELECT (SELECT coalesce(sum(greatest("$o", "$n")), 0)::bigint FROM (SELECT count(*) FILTER (WHERE "$img" = 'o') AS "$o", count(*) FILTER (WHERE "$img" = 'n') AS "$n" FROM (SELECT "$stmt", "$img" FROM "$c1" UNION ALL SELECT "$stmt", "$img" FROM "$c2") "$x" GROUP BY "$stmt") "$y") AS changes, (SELECT count(*) FROM "$c1" WHERE "$img" = 't') + (SELECT count(*) FROM "$c2" WHERE "$img" = 't') AS markers, (SELECT count(*) FROM "$del") AS deleted, (SELECT count(*) FROM "$ins") AS inserted;
WITH "$c1" AS (DELETE FROM agent_mv."v$log1" RETURNING "$stmt", "$img"), "$c2" AS (DELETE FROM agent_mv."v$log2" RETURNING "$stmt", "$img"), "$ins" AS (INSERT INTO agent_mv.v SELECT * FROM agent_mv."v$def" RETURNING 1) SELECT (SELECT coalesce(sum(greatest("$o", "$n")), 0)::bigint FROM (SELECT count(*) FILTER (WHERE "$img" = 'o') AS "$o", count(*) FILTER (WHERE "$img" = 'n') AS "$n" FROM (SELECT "$stmt", "$img" FROM "$c1" UNION ALL SELECT "$stmt", "$img" FROM "$c2") "$x" GROUP BY "$stmt") "$y") AS changes, (SELECT count(*) FROM "$ins") AS inserted;
