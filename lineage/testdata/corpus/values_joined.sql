SELECT u.name, v.tier FROM users u JOIN (VALUES (1, 'gold')) AS v(id, tier) ON v.id = u.id
