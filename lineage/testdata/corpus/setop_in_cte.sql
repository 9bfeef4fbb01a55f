WITH ids AS (SELECT id FROM users UNION SELECT user_id FROM orders) SELECT count(id) AS n FROM ids
