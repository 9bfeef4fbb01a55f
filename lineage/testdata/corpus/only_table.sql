SELECT id FROM ONLY public.measurements
