SELECT pg_sleep(1), set_config('a.b', 'c', true) FROM users WHERE pg_read_file('x') IS NOT NULL
