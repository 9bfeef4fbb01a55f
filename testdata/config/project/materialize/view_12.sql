-- view_12
SELECT id, amount FROM public.orders_12
