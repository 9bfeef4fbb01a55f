SELECT g FROM pg_catalog.generate_series(1, 10) g
