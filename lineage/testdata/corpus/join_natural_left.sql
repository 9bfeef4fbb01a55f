SELECT * FROM products NATURAL LEFT JOIN order_items
