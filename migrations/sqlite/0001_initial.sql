-- The initial commerce schema (SQLite dialect): the same tables, constraints and indexes as
-- `postgres/0001_initial.sql`; read that file for why each exists.
--
-- Dialect differences only:
-- - Tables are STRICT, so a column holds only its declared type, as on Postgres.
-- - UUIDs are TEXT in the lowercase hyphenated form (checked by length and shape).
-- - Instants are INTEGER unix milliseconds, the domain's own representation.
-- - Booleans are INTEGER 0/1; JSON is TEXT checked with json_valid; bytes are BLOB.
-- Foreign keys are enforced because the store turns on `PRAGMA foreign_keys` per connection.

CREATE TABLE products (
    sku         TEXT    PRIMARY KEY CHECK (length(sku) BETWEEN 1 AND 64),
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
    currency    TEXT    NOT NULL CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    version     INTEGER NOT NULL CHECK (version >= 1),
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE inventory (
    sku      TEXT    PRIMARY KEY CHECK (length(sku) BETWEEN 1 AND 64),
    on_hand  INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved INTEGER NOT NULL CHECK (reserved >= 0),
    sold     INTEGER NOT NULL CHECK (sold >= 0),
    version  INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT inventory_reserved_within_on_hand CHECK (reserved <= on_hand)
) STRICT;

CREATE TABLE reservations (
    reservation_id TEXT    PRIMARY KEY CHECK (length(reservation_id) = 36),
    sku            TEXT    NOT NULL REFERENCES inventory (sku),
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    status         TEXT    NOT NULL
        CHECK (status IN ('held', 'committed', 'released', 'expired', 'returned')),
    expires_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX reservations_by_sku ON reservations (sku);
CREATE INDEX reservations_held_by_expiry ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE carts (
    cart_id     TEXT    PRIMARY KEY CHECK (length(cart_id) = 36),
    customer_id TEXT    NULL CHECK (length(customer_id) = 36),
    status      TEXT    NOT NULL CHECK (status IN ('open', 'checking_out', 'checked_out')),
    order_id    TEXT    NULL CHECK (length(order_id) = 36),
    version     INTEGER NOT NULL CHECK (version >= 1),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT carts_order_unless_open CHECK ((status = 'open') = (order_id IS NULL))
) STRICT;

CREATE TABLE cart_lines (
    cart_id          TEXT    NOT NULL REFERENCES carts (cart_id) ON DELETE CASCADE,
    sku              TEXT    NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    currency         TEXT    NOT NULL CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    position         INTEGER NOT NULL CHECK (position >= 0),
    PRIMARY KEY (cart_id, sku),
    UNIQUE (cart_id, position)
) STRICT;

CREATE TABLE orders (
    order_id         TEXT    PRIMARY KEY CHECK (length(order_id) = 36),
    customer_id      TEXT    NULL CHECK (length(customer_id) = 36),
    cart_id          TEXT    NULL CHECK (length(cart_id) = 36),
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'reserved', 'confirmed',
                         'fulfillment_requested', 'shipped', 'delivered', 'failed', 'cancelled')),
    total_minor      INTEGER NOT NULL CHECK (total_minor >= 0),
    currency         TEXT    NOT NULL CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    ship_name        TEXT    NOT NULL CHECK (length(ship_name) BETWEEN 1 AND 200),
    ship_line1       TEXT    NOT NULL CHECK (length(ship_line1) BETWEEN 1 AND 200),
    ship_line2       TEXT    NULL CHECK (length(ship_line2) BETWEEN 1 AND 200),
    ship_city        TEXT    NOT NULL CHECK (length(ship_city) BETWEEN 1 AND 200),
    ship_postal_code TEXT    NOT NULL CHECK (length(ship_postal_code) BETWEEN 1 AND 200),
    ship_country     TEXT    NOT NULL CHECK (ship_country GLOB '[A-Z][A-Z]'),
    shipment_id      TEXT    NULL CHECK (length(shipment_id) BETWEEN 1 AND 100),
    failure_reason   TEXT    NULL CHECK (failure_reason IN ('out_of_stock', 'payment_declined',
                         'payment_timeout', 'interrupted')),
    placed_at        INTEGER NOT NULL,
    version          INTEGER NOT NULL CHECK (version >= 1),
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX orders_by_customer ON orders (customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE order_lines (
    order_id         TEXT    NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL CHECK (line_no >= 0),
    sku              TEXT    NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    line_total_minor INTEGER NOT NULL CHECK (line_total_minor >= 0),
    currency         TEXT    NOT NULL CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    PRIMARY KEY (order_id, line_no),
    CONSTRAINT order_lines_total CHECK (line_total_minor = quantity * unit_price_minor)
) STRICT;

CREATE TABLE payments (
    payment_id   TEXT    PRIMARY KEY CHECK (length(payment_id) = 36),
    order_id     TEXT    NOT NULL UNIQUE REFERENCES orders (order_id) ON DELETE CASCADE,
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency     TEXT    NOT NULL CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    status       TEXT    NOT NULL CHECK (status IN ('authorized', 'declined', 'voided')),
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE checkout_sagas (
    order_id       TEXT    PRIMARY KEY CHECK (length(order_id) = 36),
    cart_id        TEXT    NULL CHECK (length(cart_id) = 36),
    step           TEXT    NOT NULL CHECK (step IN ('started', 'reserved', 'authorized',
                              'confirmed', 'completed', 'compensating', 'failed')),
    payment_token  TEXT    NOT NULL,
    failure_reason TEXT    NULL,
    started_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX checkout_sagas_in_flight ON checkout_sagas (started_at)
    WHERE step NOT IN ('completed', 'failed');

CREATE TABLE idempotency_keys (
    scope         TEXT    NOT NULL CHECK (length(scope) BETWEEN 1 AND 100),
    key           TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  TEXT    NOT NULL,
    order_id      TEXT    NOT NULL CHECK (length(order_id) = 36),
    status_code   INTEGER NULL CHECK (status_code BETWEEN 100 AND 599),
    response_body BLOB    NULL,
    created_at    INTEGER NOT NULL,
    completed_at  INTEGER NULL,
    PRIMARY KEY (scope, key),
    CONSTRAINT idempotency_keys_completed_together CHECK (
        (status_code IS NULL) = (response_body IS NULL)
        AND (status_code IS NULL) = (completed_at IS NULL))
) STRICT;

CREATE TABLE outbox (
    event_id       TEXT    PRIMARY KEY CHECK (length(event_id) = 36),
    aggregate_type TEXT    NOT NULL CHECK (aggregate_type IN ('product', 'inventory', 'cart', 'order')),
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence >= 1),
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version >= 1),
    payload        TEXT    NOT NULL CHECK (json_valid(payload) AND json_type(payload) = 'object'),
    created_at     INTEGER NOT NULL,
    published_at   INTEGER NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
) STRICT;

CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
