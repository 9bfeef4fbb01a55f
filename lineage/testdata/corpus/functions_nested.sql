SELECT lower(trim(u.name)) AS n, date_trunc('day', o.created_at) AS d
FROM users u JOIN orders o ON o.user_id = u.id
