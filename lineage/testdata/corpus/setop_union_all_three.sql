SELECT id FROM users UNION ALL SELECT id FROM accounts UNION ALL SELECT id FROM sales.orders
