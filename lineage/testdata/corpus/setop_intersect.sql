SELECT user_id AS id FROM orders INTERSECT SELECT id FROM users
