SELECT DISTINCT ON (user_id) user_id, amount FROM orders ORDER BY user_id, created_at DESC
