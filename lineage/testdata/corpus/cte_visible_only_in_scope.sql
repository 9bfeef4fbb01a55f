SELECT (SELECT count(*) FROM (WITH products AS (SELECT 1 AS id) SELECT id FROM products) p) AS n,
       products.name
FROM products
