-- view_14
SELECT id, amount FROM public.orders_14
