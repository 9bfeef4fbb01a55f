SELECT date_trunc('day', created_at) AS day, count(*) AS orders, sum(total) AS revenue FROM orders GROUP BY 1
