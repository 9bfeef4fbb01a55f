-- view_13
SELECT id, amount FROM public.orders_13
