SELECT a.id, b.id AS other FROM users a JOIN users b ON a.email = b.email AND a.id < b.id
