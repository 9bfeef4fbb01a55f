SELECT id, name FROM users
UNION
SELECT id, owner FROM accounts
