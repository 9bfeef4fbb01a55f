-- SELECT customer_id, count(*) AS n, sum(amount) AS total, min(amount) AS lo FROM orders WHERE status <> 'x' GROUP BY customer_id
-- groups by (customer_id) recomputed where changes land; captures public.orders
WITH "$c1" AS (DELETE FROM agent_mv."v$log1" RETURNING *),
"$g" AS (SELECT DISTINCT customer_id AS "$k1" FROM (SELECT customer_id, amount, status FROM "$c1" WHERE "$img" <> 't') orders WHERE status <> 'x'),
"$del" AS (DELETE FROM agent_mv.v WHERE ctid = ANY (ARRAY(SELECT "$s".ctid FROM "$g", LATERAL (SELECT ctid FROM agent_mv.v WHERE "customer_id" = "$g"."$k1" OFFSET 0) "$s" WHERE "$g"."$k1" IS NOT NULL
UNION ALL
SELECT "$s".ctid FROM "$g", LATERAL (SELECT ctid FROM agent_mv.v WHERE "customer_id" IS NULL OFFSET 0) "$s" WHERE "$g"."$k1" IS NULL)) RETURNING 1),
"$ins" AS (INSERT INTO agent_mv.v SELECT * FROM ((SELECT customer_id, count(*) AS n, sum(amount) AS total, min(amount) AS lo FROM public.orders WHERE status <> 'x' AND customer_id IN (SELECT "$g"."$k1" FROM "$g" WHERE "$g"."$k1" IS NOT NULL) GROUP BY customer_id)
UNION ALL
(SELECT customer_id, count(*) AS n, sum(amount) AS total, min(amount) AS lo FROM public.orders WHERE status <> 'x' AND EXISTS (SELECT 1 FROM "$g" WHERE "$g"."$k1" IS NULL) AND customer_id IS NULL GROUP BY customer_id)) "$q" WHERE (SELECT count(*) FROM "$del") >= 0 RETURNING 1)
SELECT (SELECT coalesce(sum(greatest("$o", "$n")), 0)::bigint FROM (SELECT count(*) FILTER (WHERE "$img" = 'o') AS "$o", count(*) FILTER (WHERE "$img" = 'n') AS "$n" FROM (SELECT "$stmt", "$img" FROM "$c1") "$x" GROUP BY "$stmt") "$y") AS changes, (SELECT count(*) FROM "$c1" WHERE "$img" = 't') AS markers, (SELECT count(*) FROM "$del") AS deleted, (SELECT count(*) FROM "$ins") AS inserted;
WITH "$c1" AS (DELETE FROM agent_mv."v$log1" RETURNING "$stmt", "$img"), "$ins" AS (INSERT INTO agent_mv.v SELECT * FROM agent_mv."v$def" RETURNING 1) SELECT (SELECT coalesce(sum(greatest("$o", "$n")), 0)::bigint FROM (SELECT count(*) FILTER (WHERE "$img" = 'o') AS "$o", count(*) FILTER (WHERE "$img" = 'n') AS "$n" FROM (SELECT "$stmt", "$img" FROM "$c1") "$x" GROUP BY "$stmt") "$y") AS changes, (SELECT count(*) FROM "$ins") AS inserted;
