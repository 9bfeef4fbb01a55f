SELECT j.uid, j.uname FROM (users u JOIN accounts a ON a.user_id = u.id) AS j(uid, uname)
