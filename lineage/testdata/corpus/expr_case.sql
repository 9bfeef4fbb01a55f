SELECT CASE WHEN status = 'paid' THEN total ELSE 0 END AS paid_total FROM orders
