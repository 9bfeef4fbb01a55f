SELECT x.n FROM events e, XMLTABLE('/r' PASSING (e.payload::text::xml) COLUMNS n int PATH 'n') AS x
