SELECT id, region FROM sales.orders
