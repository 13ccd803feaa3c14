-- The outbox relay, the consumers' inboxes, the read models and notifications (Postgres).
--
-- The relay claims outbox rows with a lease: `claimed_by` names the relay instance and
-- `lease_until` says until when no other relay may take them. A relay that dies mid-batch leaves
-- its rows unpublished; when the lease runs out another relay (or the same one restarted) claims
-- and publishes them again, so every row reaches the broker at least once.
ALTER TABLE outbox ADD COLUMN claimed_by UUID NULL;
ALTER TABLE outbox ADD COLUMN lease_until TIMESTAMPTZ NULL;

-- The relay asks "is an earlier event of this aggregate still unpublished?" for every candidate;
-- this answers from the unpublished rows only.
CREATE INDEX outbox_unpublished_by_aggregate ON outbox (aggregate_type, aggregate_id, sequence)
    WHERE published_at IS NULL;

-- Pruning deletes published rows older than the retention, oldest first.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- One row per (consumer, event) a consumer has applied, written in the same transaction as the
-- consumer's side effect: a redelivered event finds its row and changes nothing.
CREATE TABLE inbox (
    consumer     TEXT        NOT NULL CHECK (length(consumer) BETWEEN 1 AND 100),
    event_id     UUID        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Messages a consumer gave up on after its attempts, for an operator to inspect and replay. On
-- Kafka they also go to the dead-letter topic; in embedded mode this table is the dead-letter
-- queue.
CREATE TABLE dead_letters (
    consumer       TEXT        NOT NULL CHECK (length(consumer) BETWEEN 1 AND 100),
    event_id       UUID        NOT NULL,
    event_type     TEXT        NOT NULL,
    aggregate_id   TEXT        NOT NULL,
    payload        TEXT        NOT NULL,
    error          TEXT        NOT NULL,
    attempts       INTEGER     NOT NULL CHECK (attempts >= 1),
    failed_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- The order read model: one row per order, denormalized for "my orders".
CREATE TABLE order_views (
    order_id      UUID        PRIMARY KEY,
    customer_id   UUID        NULL,
    status        TEXT        NOT NULL,
    total_minor   BIGINT      NOT NULL CHECK (total_minor >= 0),
    currency      CHAR(3)     NOT NULL,
    line_count    INTEGER     NOT NULL CHECK (line_count >= 0),
    item_count    BIGINT      NOT NULL CHECK (item_count >= 0),
    placed_at     TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    -- The sequence of the last event applied: an older event arriving late changes nothing.
    last_sequence BIGINT      NOT NULL CHECK (last_sequence >= 1)
);

-- "My orders", newest first, paginated by (placed_at, order_id).
CREATE INDEX order_views_by_customer ON order_views (customer_id, placed_at DESC, order_id DESC)
    WHERE customer_id IS NOT NULL;

-- The same orders per SKU, for sellers.
CREATE TABLE order_view_skus (
    sku       TEXT        NOT NULL,
    order_id  UUID        NOT NULL REFERENCES order_views (order_id) ON DELETE CASCADE,
    quantity  BIGINT      NOT NULL CHECK (quantity > 0),
    placed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sku, order_id)
);

CREATE INDEX order_view_skus_by_time ON order_view_skus (sku, placed_at DESC, order_id DESC);

-- Who to tell about an order: the notification consumer's own copy of `order.placed`'s customer,
-- so it does not depend on another consumer's progress.
CREATE TABLE notification_recipients (
    order_id    UUID PRIMARY KEY,
    customer_id UUID NULL
);

-- Notifications as recorded by the default `Notifier` adapter.
CREATE TABLE notifications (
    notification_id UUID        PRIMARY KEY,
    customer_id     UUID        NULL,
    order_id        UUID        NOT NULL,
    kind            TEXT        NOT NULL CHECK (kind IN ('order_confirmed', 'order_failed',
                                    'order_cancelled', 'order_shipped')),
    message         TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    -- One notification of a kind per order, however often its event is delivered.
    UNIQUE (order_id, kind)
);

CREATE INDEX notifications_by_customer ON notifications (customer_id, created_at DESC)
    WHERE customer_id IS NOT NULL;
