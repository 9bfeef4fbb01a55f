SELECT d::date AS day FROM generate_series(now() - interval '7 days', now(), interval '1 day') AS d
