SELECT * FROM users JOIN accounts USING (id)
