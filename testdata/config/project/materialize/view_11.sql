-- view_11
SELECT id, amount FROM public.orders_11
