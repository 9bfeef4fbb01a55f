SELECT a.id AS account_id, a.owner, (SELECT count(*) FROM users u WHERE u.id = a.user_id) AS user_count,
       EXISTS (SELECT 1 FROM orders o WHERE o.user_id = a.user_id AND o.status = 'open') AS has_open_orders,
       (SELECT count(*) FROM events) AS all_events
FROM accounts a
