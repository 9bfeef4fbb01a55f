-- view_16
SELECT id, amount FROM public.orders_16
