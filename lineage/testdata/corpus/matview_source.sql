SELECT day FROM public.daily_mv
