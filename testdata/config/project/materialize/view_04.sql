-- view_04
SELECT id, amount FROM public.orders_04
