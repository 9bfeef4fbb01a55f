WITH a AS (SELECT id, amount FROM orders),
     b AS (SELECT id, amount * 2 AS doubled FROM a)
SELECT doubled FROM b
