SELECT u.name, l.cnt FROM users u LEFT JOIN LATERAL (SELECT count(*) AS cnt FROM events e WHERE e.user_id = u.id) l ON true
