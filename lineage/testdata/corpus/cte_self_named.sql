WITH users AS (SELECT * FROM users) SELECT id FROM users
