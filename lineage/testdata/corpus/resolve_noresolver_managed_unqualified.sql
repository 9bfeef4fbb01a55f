-- opts: noresolver
SELECT user_id FROM customer_rollup
