SELECT j.id, name FROM users JOIN accounts USING (id) AS j
