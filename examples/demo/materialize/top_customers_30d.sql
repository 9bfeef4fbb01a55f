-- Top 10 customers by lifetime spend who ordered in the 30 days before the latest order.
-- Reads from the customer_rollup view (a view on a view).
SELECT customer_id, email, order_count, lifetime_value_cents, last_order_at
  FROM agent_mv.customer_rollup
 WHERE last_order_at >= (SELECT max(last_order_at) FROM agent_mv.customer_rollup) - interval '30 days'
 ORDER BY lifetime_value_cents DESC, customer_id
 LIMIT 10;
