-- view_03
SELECT id, amount FROM public.orders_03
