SELECT 1, now(), upper(name), name FROM users
