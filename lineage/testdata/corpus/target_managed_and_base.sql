SELECT u.name, r.total FROM public.users u JOIN agent_mv.customer_rollup r ON r.user_id = u.id
