SELECT user_id FROM agent_mv.customer_rollup UNION SELECT user_id FROM top_customers
