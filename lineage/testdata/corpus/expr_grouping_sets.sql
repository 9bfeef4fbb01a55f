SELECT status, user_id, sum(total) AS s FROM orders GROUP BY GROUPING SETS ((status), (user_id))
