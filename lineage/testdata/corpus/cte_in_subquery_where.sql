SELECT id FROM users
WHERE id IN (WITH o AS (SELECT user_id FROM orders) SELECT user_id FROM o)
