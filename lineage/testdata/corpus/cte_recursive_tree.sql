WITH RECURSIVE tree AS (SELECT id, user_id AS parent FROM accounts WHERE user_id IS NULL UNION ALL SELECT a.id, a.user_id FROM accounts a JOIN tree t ON a.user_id = t.id) SELECT id, parent FROM tree
