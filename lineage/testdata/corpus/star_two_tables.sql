SELECT * FROM users u, accounts a
