SELECT public.users.name FROM public.users
