-- view_02
SELECT id, amount FROM public.orders_02
