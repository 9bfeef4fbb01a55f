-- Gross revenue per product per day over the 90 days before the latest payment.
-- Anchored on the data (max(paid_at)), not now(), so it is deterministic.
SELECT date_trunc('day', p.paid_at)::date  AS day,
       pr.id                               AS product_id,
       pr.sku,
       sum(oi.qty)                         AS units_sold,
       sum(oi.qty * pr.price_cents)        AS gross_revenue_cents
  FROM public.payments p
  JOIN public.orders o       ON o.id = p.order_id
  JOIN public.order_items oi ON oi.order_id = o.id
  JOIN public.products pr    ON pr.id = oi.product_id
 WHERE p.paid_at >= (SELECT max(paid_at) FROM public.payments) - interval '90 days'
 GROUP BY 1, 2, 3;
