SELECT e.id, r.kind, r.n
FROM events e, json_to_recordset(e.payload::json) AS r(kind text, n int)
