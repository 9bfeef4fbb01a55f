SELECT x.id FROM (SELECT id FROM public.users) x
