SELECT u.id, (SELECT max(o.amount) FROM orders o WHERE o.user_id = u.id) AS biggest
FROM users u
