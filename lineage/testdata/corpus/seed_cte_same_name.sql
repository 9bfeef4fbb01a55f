WITH users AS (SELECT id FROM public.accounts)
SELECT u.id FROM users u JOIN public.users pu ON pu.id = u.id
