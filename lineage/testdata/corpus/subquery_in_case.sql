SELECT CASE WHEN EXISTS (SELECT 1 FROM accounts a WHERE a.user_id = u.id) THEN u.name ELSE 'none' END AS label FROM users u
