SELECT u.*, a.balance FROM users u JOIN accounts a USING (id)
