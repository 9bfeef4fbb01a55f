SELECT user_id, count(*) AS n, sum(amount) AS total, avg(amount) FILTER (WHERE status = 'paid') AS avg_paid
FROM orders GROUP BY user_id
