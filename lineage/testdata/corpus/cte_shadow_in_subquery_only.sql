SELECT id FROM orders WHERE user_id IN (WITH orders AS (SELECT id FROM accounts) SELECT id FROM orders)
