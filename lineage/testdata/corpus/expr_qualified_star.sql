SELECT u.*, o.total FROM users u JOIN orders o ON o.user_id = u.id
