-- agentmv demo shop: five tables in public, deterministic (no now(), no random()).
-- The reference day is 2026-01-01; every timestamp is relative to it, so the views' contents
-- are the same on every run. Sized (~40k users, ~120k orders) so refreshes take visible time.
CREATE TABLE users (
    id         serial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);
CREATE TABLE products (
    id          serial PRIMARY KEY,
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    price_cents integer NOT NULL CHECK (price_cents >= 0)
);
CREATE TABLE orders (
    id         serial PRIMARY KEY,
    user_id    integer NOT NULL REFERENCES users(id),
    created_at timestamptz NOT NULL
);
CREATE TABLE order_items (
    order_id   integer NOT NULL REFERENCES orders(id),
    product_id integer NOT NULL REFERENCES products(id),
    qty        integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (order_id, product_id)
);
CREATE TABLE payments (
    id           serial PRIMARY KEY,
    order_id     integer NOT NULL REFERENCES orders(id),
    amount_cents integer NOT NULL,
    paid_at      timestamptz NOT NULL
);

INSERT INTO products (sku, name, price_cents) VALUES
    ('SKU-001', 'Wireless Mouse', 2500),
    ('SKU-002', 'Mechanical Keyboard', 9900),
    ('SKU-003', 'USB-C Hub', 4500),
    ('SKU-004', 'Laptop Stand', 3500),
    ('SKU-005', 'Desk Mat', 2000);

-- The seed's five named customers first (ids 1..5), then generated ones.
INSERT INTO users (email, created_at) VALUES
    ('alice@example.com', timestamptz '2026-01-01 00:00+00' - interval '120 days'),
    ('bob@example.com',   timestamptz '2026-01-01 00:00+00' - interval '90 days'),
    ('carol@example.com', timestamptz '2026-01-01 00:00+00' - interval '60 days'),
    ('dave@example.com',  timestamptz '2026-01-01 00:00+00' - interval '20 days'),
    ('eve@example.com',   timestamptz '2026-01-01 00:00+00' - interval '5 days');
INSERT INTO users (email, created_at)
SELECT 'customer' || g || '@example.com',
       timestamptz '2026-01-01 00:00+00' - ((g * 7919) % 365) * interval '1 day'
  FROM generate_series(6, 40000) AS g;

-- The seed's ten orders, then ~200k generated ones spread over the last 365 days.
INSERT INTO orders (user_id, created_at) VALUES
    (1, timestamptz '2026-01-01 00:00+00' - interval '85 days'),
    (1, timestamptz '2026-01-01 00:00+00' - interval '40 days'),
    (1, timestamptz '2026-01-01 00:00+00' - interval '10 days'),
    (2, timestamptz '2026-01-01 00:00+00' - interval '70 days'),
    (2, timestamptz '2026-01-01 00:00+00' - interval '15 days'),
    (3, timestamptz '2026-01-01 00:00+00' - interval '50 days'),
    (3, timestamptz '2026-01-01 00:00+00' - interval '25 days'),
    (3, timestamptz '2026-01-01 00:00+00' - interval '3 days'),
    (4, timestamptz '2026-01-01 00:00+00' - interval '12 days'),
    (5, timestamptz '2026-01-01 00:00+00' - interval '2 days');
INSERT INTO orders (user_id, created_at)
SELECT 6 + ((g::bigint * 104729) % 39995)::int,
       timestamptz '2026-01-01 00:00+00' - ((g * 31) % 365 + 35) * interval '1 day'
              - ((g * 17) % 86400) * interval '1 second'
  FROM generate_series(1, 120000) AS g;

-- One to three lines per order, deterministic.
INSERT INTO order_items (order_id, product_id, qty)
SELECT o.id, p, 1 + (o.id + p) % 3
  FROM orders o
 CROSS JOIN LATERAL generate_series(1, 5) AS p
 WHERE (o.id + p * 3) % 5 < 1 + o.id % 3
    OR (o.id <= 10 AND p = 1 + o.id % 5);

INSERT INTO payments (order_id, amount_cents, paid_at)
SELECT o.id, sum(oi.qty * pr.price_cents), o.created_at
  FROM orders o
  JOIN order_items oi ON oi.order_id = o.id
  JOIN products pr ON pr.id = oi.product_id
 GROUP BY o.id, o.created_at;

ANALYZE;
