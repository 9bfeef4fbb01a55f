-- view_17
SELECT id, amount FROM public.orders_17
