WITH a AS (SELECT id FROM accounts),
     accounts AS (SELECT id FROM a)
SELECT id FROM accounts
