SELECT id,
       row_number() OVER (PARTITION BY user_id ORDER BY created_at) AS rn,
       sum(amount) OVER w AS running
FROM orders
WINDOW w AS (PARTITION BY user_id ORDER BY created_at ROWS UNBOUNDED PRECEDING)
