-- opts: noresolver
SELECT * FROM public.users
