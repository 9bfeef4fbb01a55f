SELECT u.name, last.created_at
FROM users u
LEFT JOIN LATERAL (SELECT created_at FROM orders WHERE user_id = u.id ORDER BY created_at DESC LIMIT 1) last ON true
