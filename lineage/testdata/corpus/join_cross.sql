SELECT u.id, p.id AS pid FROM users u CROSS JOIN products p
