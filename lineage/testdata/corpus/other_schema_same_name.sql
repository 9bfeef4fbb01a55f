SELECT o.id FROM sales.orders o JOIN public.orders p ON p.id = o.id
