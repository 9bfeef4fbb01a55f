INSERT INTO users (id) VALUES (1)
