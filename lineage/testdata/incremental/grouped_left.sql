-- SELECT c.id, c.name, count(o.id) AS n, sum(o.amount) AS total FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name
-- groups by (id, name) recomputed where changes land; captures public.customers, public.orders
WITH "$c1" AS (DELETE FROM agent_mv."v$log1" RETURNING *),
"$c2" AS (DELETE FROM agent_mv."v$log2" RETURNING *),
"$r" AS (SELECT "id" FROM "$c1" WHERE "$img" <> 't'
UNION
SELECT c.id AS id FROM public.customers c JOIN (SELECT id, customer_id, amount FROM "$c2" WHERE "$img" <> 't') o ON o.customer_id = c.id),
"$g" AS (SELECT DISTINCT c.id AS "$k1", c.name AS "$k2" FROM (SELECT id, name FROM "$c1" WHERE "$img" <> 't' UNION ALL SELECT id, name FROM public.customers WHERE id IN (SELECT id FROM "$r")) c),
"$del" AS (DELETE FROM agent_mv.v WHERE ctid = ANY (ARRAY(SELECT "$s".ctid FROM "$g", LATERAL (SELECT ctid FROM agent_mv.v WHERE "id" = "$g"."$k1" AND "name" = "$g"."$k2" OFFSET 0) "$s" WHERE "$g"."$k2" IS NOT NULL
UNION ALL
SELECT "$s".ctid FROM "$g", LATERAL (SELECT ctid FROM agent_mv.v WHERE "id" = "$g"."$k1" AND "name" IS NULL OFFSET 0) "$s" WHERE "$g"."$k2" IS NULL)) RETURNING 1),
"$ins" AS (INSERT INTO agent_mv.v SELECT * FROM ((SELECT c.id, c.name, count(o.id) AS n, sum(o.amount) AS total FROM public.customers c LEFT JOIN public.orders o ON o.customer_id = c.id WHERE (c.id, c.name) IN (SELECT "$g"."$k1", "$g"."$k2" FROM "$g" WHERE "$g"."$k2" IS NOT NULL) GROUP BY c.id, c.name)
UNION ALL
(SELECT c.id, c.name, count(o.id) AS n, sum(o.amount) AS total FROM public.customers c LEFT JOIN public.orders o ON o.customer_id = c.id WHERE c.id IN (SELECT "$g"."$k1" FROM "$g" WHERE "$g"."$k2" IS NULL) AND c.name IS NULL GROUP BY c.id, c.name)) "$q" WHERE (SELECT count(*) FROM "$del") >= 0 RETURNING 1)
SELECT (SELECT coalesce(sum(greatest("$o", "$n")), 0)::bigint FROM (SELECT count(*) FILTER (WHERE "$img" = 'o') AS "$o", count(*) FILTER (WHERE "$img" = 'n') AS "$n" FROM (SELECT "$stmt", "$img" FROM "$c1" UNION ALL SELECT "$stmt", "$img" FROM "$c2") "$x" GROUP BY "$stmt") "$y") AS changes, (SELECT count(*) FROM "$c1" WHERE "$img" = 't') + (SELECT count(*) FROM "$c2" WHERE "$img" = 't') AS markers, (SELECT count(*) FROM "$del") AS deleted, (SELECT count(*) FROM "$ins") AS inserted;
WITH "$c1" AS (DELETE FROM agent_mv."v$log1" RETURNING "$stmt", "$img"), "$c2" AS (DELETE FROM agent_mv."v$log2" RETURNING "$stmt", "$img"), "$ins" AS (INSERT INTO agent_mv.v SELECT * FROM agent_mv."v$def" RETURNING 1) SELECT (SELECT coalesce(sum(greatest("$o", "$n")), 0)::bigint FROM (SELECT count(*) FILTER (WHERE "$img" = 'o') AS "$o", count(*) FILTER (WHERE "$img" = 'n') AS "$n" FROM (SELECT "$stmt", "$img" FROM "$c1" UNION ALL SELECT "$stmt", "$img" FROM "$c2") "$x" GROUP BY "$stmt") "$y") AS changes, (SELECT count(*) FROM "$ins") AS inserted;
