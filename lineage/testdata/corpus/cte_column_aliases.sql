WITH t(uid, n) AS (SELECT id, name FROM users) SELECT uid, n FROM t
