-- view_18
SELECT id, amount FROM public.orders_18
