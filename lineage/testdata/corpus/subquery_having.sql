SELECT user_id, count(*) AS n FROM orders GROUP BY user_id
HAVING count(*) > (SELECT count(*) / 10 FROM users)
