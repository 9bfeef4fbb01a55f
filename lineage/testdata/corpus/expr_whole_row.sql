SELECT to_jsonb(u) AS doc FROM users u
