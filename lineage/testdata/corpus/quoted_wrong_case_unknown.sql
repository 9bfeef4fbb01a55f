SELECT id FROM mytable
