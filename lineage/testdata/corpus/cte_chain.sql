WITH a AS (SELECT id, total FROM orders), b AS (SELECT id, total * 2 AS dbl FROM a) SELECT id, dbl FROM b
