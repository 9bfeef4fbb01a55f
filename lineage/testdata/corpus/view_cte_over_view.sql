WITH t AS (SELECT * FROM agent_mv.orders_daily) SELECT day, revenue FROM t
