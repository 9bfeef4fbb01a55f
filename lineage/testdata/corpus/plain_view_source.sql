SELECT id FROM public.active_users
