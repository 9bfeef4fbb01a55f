UPDATE users SET name = 'x'
