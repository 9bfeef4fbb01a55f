SELECT x.id FROM XMLTABLE('/rows/row' PASSING xmlparse(document '<rows><row id="1"/></rows>') COLUMNS id int PATH '@id') x
