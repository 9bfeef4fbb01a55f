SELECT jt.k FROM events e, JSON_TABLE(e.payload, '$' COLUMNS (k text PATH '$.k')) jt
