SELECT j.a, j.b FROM (users u JOIN orders o ON o.user_id = u.id) AS j(a, b)
