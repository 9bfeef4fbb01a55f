SELECT * FROM (WITH u AS (UPDATE users SET name = 'x' RETURNING id) SELECT id FROM u) s
