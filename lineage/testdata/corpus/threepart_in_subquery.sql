SELECT id FROM users WHERE id IN (
  SELECT user_id FROM otherdb.public.orders)
