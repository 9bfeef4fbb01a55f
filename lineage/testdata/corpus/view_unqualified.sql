SELECT user_id, total FROM customer_rollup WHERE total > 100
