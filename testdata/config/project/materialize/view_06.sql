-- view_06
SELECT id, amount FROM public.orders_06
