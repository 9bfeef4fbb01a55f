WITH t AS (SELECT * FROM agent_mv.customer_rollup) SELECT user_id, total FROM t
