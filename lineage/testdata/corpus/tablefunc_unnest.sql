SELECT u.id, tag FROM users u, unnest(string_to_array(u.name, ' ')) AS tag
