(SELECT id, amount FROM orders ORDER BY amount DESC LIMIT 5)
UNION ALL
(SELECT id, total FROM sales.orders ORDER BY total DESC LIMIT 5)
