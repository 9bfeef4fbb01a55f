-- view_08
SELECT id, amount FROM public.orders_08
