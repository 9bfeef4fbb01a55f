SELECT * FROM refresh_history
