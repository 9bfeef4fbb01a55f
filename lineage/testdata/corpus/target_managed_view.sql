SELECT r.user_id, r.total, d.day FROM agent_mv.customer_rollup r, agent_mv.orders_daily d
