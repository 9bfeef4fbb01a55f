-- view_15
SELECT id, amount FROM public.orders_15
