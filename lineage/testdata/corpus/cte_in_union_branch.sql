SELECT id FROM users UNION SELECT id FROM (WITH x AS (SELECT user_id AS id FROM orders) SELECT id FROM x) s
