WITH c AS (SELECT lower(name) AS n FROM users) SELECT upper(n), pg_catalog.length(n) FROM c, generate_series(1, 2) g WHERE md5(n) <> '' ORDER BY abs(length(n))
