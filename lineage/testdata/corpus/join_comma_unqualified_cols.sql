SELECT name, total FROM users, orders WHERE users.id = orders.user_id
