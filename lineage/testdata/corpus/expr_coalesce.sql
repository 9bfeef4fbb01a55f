SELECT coalesce(u.name, u.email) AS label FROM users u
