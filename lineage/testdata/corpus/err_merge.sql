MERGE INTO users u USING accounts a ON a.id = u.id WHEN MATCHED THEN DELETE
