WITH users AS (SELECT id, owner AS name FROM public.accounts)
SELECT users.id, u2.email FROM users JOIN public.users u2 ON u2.id = users.id
