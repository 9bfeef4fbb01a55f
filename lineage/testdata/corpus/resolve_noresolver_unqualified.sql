-- opts: noresolver
SELECT id FROM users
