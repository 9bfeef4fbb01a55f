SELECT c.user_id, u.name, c.total FROM agent_mv.customer_rollup c JOIN public.users u ON u.id = c.user_id
