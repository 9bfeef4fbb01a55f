SELECT 1::bigint AS n
