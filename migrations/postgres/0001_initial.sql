-- The initial commerce schema (Postgres dialect).
--
-- Every aggregate row carries `version`, the aggregate's sequence after its last committed event;
-- the store writes a row only when the stored version is the one the actor loaded (optimistic
-- concurrency). Money is integer minor units plus an ISO 4217 code, never a float. Instants are
-- TIMESTAMPTZ, converted from and to the domain's unix milliseconds by the store.
--
-- Aggregates do not reference each other by foreign key (an order's SKUs, a cart's SKUs, an
-- inventory row's product): each aggregate commits in its own transaction from its own actor, and
-- a cross-aggregate FK would make one actor's commit fail because of another's timing. Child
-- rows of one aggregate (lines, reservations, payments) do reference their parent.

-- The domain's instants are unix milliseconds; these two convert at the SQL boundary so every
-- query reads `from_unix_ms($1)` / `unix_ms(col)`. They are exact at millisecond precision.
-- IMMUTABLE is true although `timestamptz + interval` is only STABLE in general: an interval of
-- pure milliseconds has no day or month part, so the session time zone cannot change the result.
CREATE FUNCTION from_unix_ms(ms BIGINT) RETURNS TIMESTAMPTZ
    LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
    RETURN TIMESTAMPTZ 'epoch' + ms * INTERVAL '1 millisecond';

CREATE FUNCTION unix_ms(ts TIMESTAMPTZ) RETURNS BIGINT
    LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
    RETURN (EXTRACT(EPOCH FROM ts) * 1000)::BIGINT;

CREATE TABLE products (
    sku         TEXT        PRIMARY KEY CHECK (length(sku) BETWEEN 1 AND 64),
    name        TEXT        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_minor BIGINT      NOT NULL CHECK (price_minor >= 0),
    currency    CHAR(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    active      BOOLEAN     NOT NULL,
    version     BIGINT      NOT NULL CHECK (version >= 1),
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE inventory (
    sku      TEXT   PRIMARY KEY CHECK (length(sku) BETWEEN 1 AND 64),
    on_hand  BIGINT NOT NULL CHECK (on_hand >= 0),
    reserved BIGINT NOT NULL CHECK (reserved >= 0),
    sold     BIGINT NOT NULL CHECK (sold >= 0),
    version  BIGINT NOT NULL CHECK (version >= 1),
    -- Units held for checkouts are units on the shelf: a reservation never promises stock the
    -- warehouse does not have.
    CONSTRAINT inventory_reserved_within_on_hand CHECK (reserved <= on_hand)
);

CREATE TABLE reservations (
    reservation_id UUID        PRIMARY KEY,
    sku            TEXT        NOT NULL REFERENCES inventory (sku),
    quantity       BIGINT      NOT NULL CHECK (quantity > 0),
    status         TEXT        NOT NULL
        CHECK (status IN ('held', 'committed', 'released', 'expired', 'returned')),
    expires_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- Loading an inventory aggregate reads all its reservations.
CREATE INDEX reservations_by_sku ON reservations (sku);

-- The expiry sweeper asks for held reservations past their deadline; only held rows can expire,
-- and they are few next to the history of committed and released ones.
CREATE INDEX reservations_held_by_expiry ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE carts (
    cart_id     UUID        PRIMARY KEY,
    customer_id UUID        NULL,
    status      TEXT        NOT NULL CHECK (status IN ('open', 'checking_out', 'checked_out')),
    order_id    UUID        NULL,
    version     BIGINT      NOT NULL CHECK (version >= 1),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    -- A cart in or past checkout names its order; an open one has none.
    CONSTRAINT carts_order_unless_open CHECK ((status = 'open') = (order_id IS NULL))
);

CREATE TABLE cart_lines (
    cart_id          UUID     NOT NULL REFERENCES carts (cart_id) ON DELETE CASCADE,
    sku              TEXT     NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    quantity         BIGINT   NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT   NOT NULL CHECK (unit_price_minor >= 0),
    currency         CHAR(3)  NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The order lines were added in, so a reloaded cart lists them as the shopper saw them.
    position         INTEGER  NOT NULL CHECK (position >= 0),
    PRIMARY KEY (cart_id, sku),
    UNIQUE (cart_id, position)
);

CREATE TABLE orders (
    order_id         UUID        PRIMARY KEY,
    customer_id      UUID        NULL,
    -- NULL for an order placed without a cart ("buy now").
    cart_id          UUID        NULL,
    status           TEXT        NOT NULL CHECK (status IN ('pending', 'reserved', 'confirmed',
                         'fulfillment_requested', 'shipped', 'delivered', 'failed', 'cancelled')),
    -- Fixed at placement; equals the sum of the line totals (checked when loading).
    total_minor      BIGINT      NOT NULL CHECK (total_minor >= 0),
    currency         CHAR(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    ship_name        TEXT        NOT NULL CHECK (length(ship_name) BETWEEN 1 AND 200),
    ship_line1       TEXT        NOT NULL CHECK (length(ship_line1) BETWEEN 1 AND 200),
    ship_line2       TEXT        NULL CHECK (length(ship_line2) BETWEEN 1 AND 200),
    ship_city        TEXT        NOT NULL CHECK (length(ship_city) BETWEEN 1 AND 200),
    ship_postal_code TEXT        NOT NULL CHECK (length(ship_postal_code) BETWEEN 1 AND 200),
    ship_country     CHAR(2)     NOT NULL CHECK (ship_country ~ '^[A-Z]{2}$'),
    -- The carrier's reference, a third party's format: text, not a UUID.
    shipment_id      TEXT        NULL CHECK (length(shipment_id) BETWEEN 1 AND 100),
    failure_reason   TEXT        NULL CHECK (failure_reason IN ('out_of_stock', 'payment_declined',
                         'payment_timeout', 'interrupted')),
    placed_at        TIMESTAMPTZ NOT NULL,
    version          BIGINT      NOT NULL CHECK (version >= 1),
    updated_at       TIMESTAMPTZ NOT NULL
);

-- "My orders" lists a customer's orders.
CREATE INDEX orders_by_customer ON orders (customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE order_lines (
    order_id         UUID    NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL CHECK (line_no >= 0),
    sku              TEXT    NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    quantity         BIGINT  NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT  NOT NULL CHECK (unit_price_minor >= 0),
    line_total_minor BIGINT  NOT NULL CHECK (line_total_minor >= 0),
    currency         CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (order_id, line_no),
    CONSTRAINT order_lines_total CHECK (line_total_minor = quantity * unit_price_minor)
);

CREATE TABLE payments (
    payment_id   UUID        PRIMARY KEY,
    -- One payment per order: a second authorization would be a double charge.
    order_id     UUID        NOT NULL UNIQUE REFERENCES orders (order_id) ON DELETE CASCADE,
    amount_minor BIGINT      NOT NULL CHECK (amount_minor >= 0),
    currency     CHAR(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status       TEXT        NOT NULL CHECK (status IN ('authorized', 'declined', 'voided')),
    updated_at   TIMESTAMPTZ NOT NULL
);

-- The saga has no FK to orders: it is the process around an order, saved by the saga runner
-- independently of the order actor's commits.
CREATE TABLE checkout_sagas (
    order_id       UUID        PRIMARY KEY,
    cart_id        UUID        NULL,
    step           TEXT        NOT NULL CHECK (step IN ('started', 'reserved', 'authorized',
                                  'confirmed', 'completed', 'compensating', 'failed')),
    payment_token  TEXT        NOT NULL,
    failure_reason TEXT        NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- Recovery at start-up resumes unfinished sagas, oldest first; finished ones are the vast
-- majority and are left out of the index.
CREATE INDEX checkout_sagas_in_flight ON checkout_sagas (started_at)
    WHERE step NOT IN ('completed', 'failed');

CREATE TABLE idempotency_keys (
    scope         TEXT        NOT NULL CHECK (length(scope) BETWEEN 1 AND 100),
    key           TEXT        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  TEXT        NOT NULL,
    order_id      UUID        NOT NULL,
    status_code   INTEGER     NULL CHECK (status_code BETWEEN 100 AND 599),
    response_body BYTEA       NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ NULL,
    PRIMARY KEY (scope, key),
    -- A key is answered all at once: status, body and time together or none of them.
    CONSTRAINT idempotency_keys_completed_together CHECK (
        (status_code IS NULL) = (response_body IS NULL)
        AND (status_code IS NULL) = (completed_at IS NULL))
);

CREATE TABLE outbox (
    event_id       UUID        PRIMARY KEY,
    aggregate_type TEXT        NOT NULL CHECK (aggregate_type IN ('product', 'inventory', 'cart', 'order')),
    aggregate_id   TEXT        NOT NULL,
    sequence       BIGINT      NOT NULL CHECK (sequence >= 1),
    event_type     TEXT        NOT NULL,
    schema_version INTEGER     NOT NULL CHECK (schema_version >= 1),
    payload        JSONB       NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    created_at     TIMESTAMPTZ NOT NULL,
    published_at   TIMESTAMPTZ NULL,
    -- One event per aggregate version: a second writer of the same version is a bug the
    -- version check should have stopped, and this is the last line of defence.
    UNIQUE (aggregate_type, aggregate_id, sequence)
);

-- The relay polls unpublished events in commit order; published ones are never read again.
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
