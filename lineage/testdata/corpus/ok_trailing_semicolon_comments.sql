-- leading comment
SELECT id /* inline */ FROM users; -- trailing
