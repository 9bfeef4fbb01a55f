SELECT id FROM users EXCEPT SELECT user_id FROM orders
