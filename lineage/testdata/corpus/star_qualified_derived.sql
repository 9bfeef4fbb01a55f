SELECT t.* FROM (SELECT id, amount * 2 AS dbl FROM orders) t
