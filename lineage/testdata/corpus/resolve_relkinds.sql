SELECT a.id, b.id AS bid, m.city_id, r.rate
FROM active_users a, big_orders b, measurements m, remote_rates r
