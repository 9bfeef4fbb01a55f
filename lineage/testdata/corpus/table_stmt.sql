TABLE public.products
