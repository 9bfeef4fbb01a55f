SELECT u.name, p.name AS product, i.qty
FROM users u
JOIN orders o ON o.user_id = u.id
JOIN order_items i ON i.order_id = o.id
JOIN products p ON p.id = i.product_id
