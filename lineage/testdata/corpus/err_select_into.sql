SELECT id INTO backup_users FROM users
