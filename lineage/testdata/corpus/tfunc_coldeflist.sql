SELECT r.a, r.b FROM jsonb_to_record('{"a":1,"b":"x"}') AS r(a int, b text)
