SELECT row_to_json(u) AS doc FROM users u
