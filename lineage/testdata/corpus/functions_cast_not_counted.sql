SELECT id::text, CAST(total AS numeric(10,2)) FROM orders
