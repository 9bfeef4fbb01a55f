SELECT id::text, now(), current_date, upper(name), 1, greatest(id, 2), (SELECT 1 AS x), EXISTS (SELECT 1 FROM products) FROM users
