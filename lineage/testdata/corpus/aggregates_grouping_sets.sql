SELECT status, user_id, sum(amount) FROM orders GROUP BY GROUPING SETS ((status), (user_id), ())
