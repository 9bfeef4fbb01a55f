SELECT * FROM users NATURAL JOIN active_users
