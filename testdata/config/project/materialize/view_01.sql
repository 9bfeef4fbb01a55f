-- view_01
SELECT id, amount FROM public.orders_01
