SELECT e.id, j.key, j.value FROM events e CROSS JOIN LATERAL jsonb_each(e.payload) j
