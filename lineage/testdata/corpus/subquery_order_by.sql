SELECT id FROM users ORDER BY (SELECT count(*) FROM orders WHERE orders.user_id = users.id)
