WITH unused AS (SELECT * FROM accounts) SELECT id FROM users
