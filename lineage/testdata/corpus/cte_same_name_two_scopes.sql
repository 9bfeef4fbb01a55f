WITH t AS (SELECT id FROM users) SELECT t.id, (WITH t AS (SELECT total FROM orders) SELECT max(total) FROM t) AS m FROM t
