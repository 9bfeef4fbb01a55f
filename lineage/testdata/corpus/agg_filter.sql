SELECT count(*) FILTER (WHERE status = 'paid') AS paid, sum(total) FILTER (WHERE status = 'paid') AS paid_total FROM orders
