SELECT * FROM agent_mv.customer_rollup
