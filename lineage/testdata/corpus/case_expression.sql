SELECT id,
       CASE WHEN amount > 100 THEN 'big' WHEN status = 'void' THEN 'void' ELSE 'small' END AS size
FROM orders
