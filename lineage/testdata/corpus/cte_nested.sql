WITH a AS (
  WITH b AS (SELECT id, name FROM users)
  SELECT id, name FROM b
)
SELECT name FROM a
