SELECT id FROM users WHERE id = ANY (ARRAY(SELECT user_id FROM orders))
