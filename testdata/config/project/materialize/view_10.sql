-- view_10
SELECT id, amount FROM public.orders_10
