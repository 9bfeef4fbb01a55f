-- view_19
SELECT id, amount FROM public.orders_19
