SELECT a, b FROM (SELECT id, name FROM users) AS t(a, b)
