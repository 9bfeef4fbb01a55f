SELECT o.id, so.region FROM public.orders o JOIN sales.orders so ON so.id = o.id
