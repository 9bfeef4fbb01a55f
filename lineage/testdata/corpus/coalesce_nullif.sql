SELECT coalesce(u.name, u.email) AS who, nullif(a.balance, 0) FROM users u JOIN accounts a ON a.id = u.id
