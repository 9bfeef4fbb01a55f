(SELECT user_id FROM orders INTERSECT SELECT user_id FROM accounts) EXCEPT SELECT user_id FROM events
