-- The outbox relay, the consumers' inboxes, the read models and notifications (SQLite dialect of
-- migrations/postgres/0002_relay.sql: same tables and meaning; ids are TEXT, instants unix ms).
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NULL;
ALTER TABLE outbox ADD COLUMN lease_until INTEGER NULL;

CREATE INDEX outbox_unpublished_by_aggregate ON outbox (aggregate_type, aggregate_id, sequence)
    WHERE published_at IS NULL;

CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE inbox (
    consumer     TEXT    NOT NULL CHECK (length(consumer) BETWEEN 1 AND 100),
    event_id     TEXT    NOT NULL CHECK (length(event_id) = 36),
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
) STRICT;

CREATE TABLE dead_letters (
    consumer     TEXT    NOT NULL CHECK (length(consumer) BETWEEN 1 AND 100),
    event_id     TEXT    NOT NULL CHECK (length(event_id) = 36),
    event_type   TEXT    NOT NULL,
    aggregate_id TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    error        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL CHECK (attempts >= 1),
    failed_at    INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
) STRICT;

CREATE TABLE order_views (
    order_id      TEXT    PRIMARY KEY CHECK (length(order_id) = 36),
    customer_id   TEXT    NULL CHECK (length(customer_id) = 36),
    status        TEXT    NOT NULL,
    total_minor   INTEGER NOT NULL CHECK (total_minor >= 0),
    currency      TEXT    NOT NULL CHECK (length(currency) = 3),
    line_count    INTEGER NOT NULL CHECK (line_count >= 0),
    item_count    INTEGER NOT NULL CHECK (item_count >= 0),
    placed_at     INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL CHECK (last_sequence >= 1)
) STRICT;

CREATE INDEX order_views_by_customer ON order_views (customer_id, placed_at DESC, order_id DESC)
    WHERE customer_id IS NOT NULL;

CREATE TABLE order_view_skus (
    sku       TEXT    NOT NULL,
    order_id  TEXT    NOT NULL REFERENCES order_views (order_id) ON DELETE CASCADE,
    quantity  INTEGER NOT NULL CHECK (quantity > 0),
    placed_at INTEGER NOT NULL,
    PRIMARY KEY (sku, order_id)
) STRICT;

CREATE INDEX order_view_skus_by_time ON order_view_skus (sku, placed_at DESC, order_id DESC);

CREATE TABLE notification_recipients (
    order_id    TEXT PRIMARY KEY CHECK (length(order_id) = 36),
    customer_id TEXT NULL
) STRICT;

CREATE TABLE notifications (
    notification_id TEXT    PRIMARY KEY CHECK (length(notification_id) = 36),
    customer_id     TEXT    NULL,
    order_id        TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('order_confirmed', 'order_failed',
                                'order_cancelled', 'order_shipped')),
    message         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (order_id, kind)
) STRICT;

CREATE INDEX notifications_by_customer ON notifications (customer_id, created_at DESC)
    WHERE customer_id IS NOT NULL;
