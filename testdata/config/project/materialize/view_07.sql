-- view_07
SELECT id, amount FROM public.orders_07
