SELECT id FROM users FULL JOIN accounts USING (id)
