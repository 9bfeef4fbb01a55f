SELECT u.id, a.balance FROM users u, accounts a WHERE u.id = a.id
