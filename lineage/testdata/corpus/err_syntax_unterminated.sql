SELECT 'abc FROM users
