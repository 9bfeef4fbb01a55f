SELECT u.id, (SELECT max(o.total) FROM orders o WHERE o.user_id = u.id) AS max_total FROM users u
