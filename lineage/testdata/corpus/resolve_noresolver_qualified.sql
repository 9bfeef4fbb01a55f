-- opts: noresolver
SELECT u.id, u.name FROM public.users u
