SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at) AS rn FROM orders
