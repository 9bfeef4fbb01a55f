SELECT id FROM ONLY public.users
