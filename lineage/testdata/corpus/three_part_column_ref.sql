SELECT public.users.id FROM public.users
