SELECT id FROM public.nope
