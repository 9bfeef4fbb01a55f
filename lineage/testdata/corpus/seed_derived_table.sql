SELECT t.id FROM (SELECT id FROM public.users) t
