WITH users AS (SELECT * FROM users) SELECT * FROM users
