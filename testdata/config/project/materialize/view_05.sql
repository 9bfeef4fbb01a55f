-- view_05
SELECT id, amount FROM public.orders_05
