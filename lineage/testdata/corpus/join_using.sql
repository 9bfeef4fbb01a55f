SELECT * FROM order_items JOIN orders USING (id)
