SELECT u.name, o.total, p.name AS product FROM users u LEFT JOIN orders o ON o.user_id = u.id RIGHT JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id
