SELECT * FROM public.nope
