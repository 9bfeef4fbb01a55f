SELECT o.total * oi.qty AS amount FROM orders o JOIN order_items oi ON oi.order_id = o.id
