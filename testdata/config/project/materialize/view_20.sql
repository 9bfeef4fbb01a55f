-- view_20
SELECT id, amount FROM public.orders_20
