SELECT j.id FROM (users u JOIN accounts a ON a.user_id = u.id) AS j(id, uname)
