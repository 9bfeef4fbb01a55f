SELECT u.id, o.amount
FROM public.users u
JOIN public.orders o ON o.user_id = u.id
