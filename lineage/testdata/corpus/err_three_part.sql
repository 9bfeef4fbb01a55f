SELECT * FROM otherdb.public.users
