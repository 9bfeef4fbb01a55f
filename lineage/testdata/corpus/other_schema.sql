SELECT s.region, sum(s.amount) AS amount FROM sales.orders s GROUP BY s.region
