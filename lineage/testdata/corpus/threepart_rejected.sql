SELECT id FROM mydb.public.users
