-- view_09
SELECT id, amount FROM public.orders_09
