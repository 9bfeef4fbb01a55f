SELECT id FROM public.users
