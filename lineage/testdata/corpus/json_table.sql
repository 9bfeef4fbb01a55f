SELECT e.id, jt.kind FROM events e,
  JSON_TABLE(e.payload, '$.items[*]' COLUMNS (kind text PATH '$.kind')) AS jt
