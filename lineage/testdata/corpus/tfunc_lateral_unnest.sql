SELECT e.id, t.tag FROM events e, LATERAL unnest(string_to_array(e.kind, ',')) AS t(tag)
