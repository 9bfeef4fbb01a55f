SELECT z.total FROM (SELECT y.total FROM (SELECT sum(amount) AS total FROM orders) y) z
