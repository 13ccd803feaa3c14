//! What the tables say after a fault, and whether the API (the actors' memory) says the same.

use super::load::Attempt;
use crate::helpers::TestApp;
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// Order statuses in which the order's units count as sold.
const SOLD_STATUSES: &[&str] = &["confirmed", "fulfillment_requested", "shipped", "delivered"];

/// A small pool on the test's database, straight to Postgres (never through a test proxy).
pub async fn connect(database_url: &str) -> PgPool {
    let options: sqlx::postgres::PgConnectOptions =
        database_url.parse().expect("test database URL");
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.application_name(BOOKS_APPLICATION))
        .await
        .expect("test pool connects")
}

/// The `application_name` of the books' own connections, so they can be told from the server's.
const BOOKS_APPLICATION: &str = "books";

/// Waits until no backend of the database serves anyone but the books: after a SIGKILL, the
/// dead server's backends finish what they were executing (a COMMIT among them) before they
/// notice the closed socket and exit. Until then a transaction the dead process sent can still
/// land, after a restarted server's recovery looked. Panics past `bound`.
pub async fn dead_server_backends_gone(pool: &PgPool, bound: Duration) {
    let started = Instant::now();
    loop {
        let (left,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND application_name <> $1",
        )
        .bind(BOOKS_APPLICATION)
        .fetch_one(pool)
        .await
        .expect("count backends");
        if left == 0 {
            return;
        }
        assert!(
            started.elapsed() < bound,
            "{left} backends of the killed server still run after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checkout sagas neither completed nor failed; with `started_by_ms`, only those started by
/// then (the database's clock, from [`now_ms`]).
pub async fn sagas_in_flight(pool: &PgPool, started_by_ms: Option<i64>) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM checkout_sagas WHERE step NOT IN ('completed', 'failed') \
         AND ($1::BIGINT IS NULL OR started_at <= TIMESTAMPTZ 'epoch' + $1 * INTERVAL '1 millisecond')",
    )
    .bind(started_by_ms)
    .fetch_one(pool)
    .await
    .expect("count sagas");
    n
}

/// The database's clock in unix milliseconds (the clock the server stamps sagas with).
pub async fn now_ms(pool: &PgPool) -> i64 {
    let (ms,): (i64,) =
        sqlx::query_as("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT")
            .fetch_one(pool)
            .await
            .expect("database clock");
    ms
}

/// Waits until every checkout saga has completed or failed (compensated); panics past `bound`.
/// Returns how long it took.
pub async fn sagas_settle(pool: &PgPool, bound: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let in_flight = sagas_in_flight(pool, None).await;
        if in_flight == 0 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "{in_flight} sagas still in flight after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Figures of one SKU's sale, from the tables.
#[derive(Debug)]
pub struct Sale {
    /// Units sold.
    pub sold: i64,
    /// Orders whose units count as sold.
    pub orders_sold: i64,
}

/// After the sagas settled: units sold are exactly the sold orders' units and the committed
/// reservations, nothing is held or oversold, every order agrees with its saga, and the API
/// reports the stock the table holds.
pub async fn assert_books_balance(pool: &PgPool, app: &TestApp, sku: &str, stock: i64) -> Sale {
    let (on_hand, reserved, sold): (i64, i64, i64) =
        sqlx::query_as("SELECT on_hand, reserved, sold FROM inventory WHERE sku = $1")
            .bind(sku)
            .fetch_one(pool)
            .await
            .expect("inventory row");
    let (sold_by_orders, orders_sold): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(l.quantity), 0)::BIGINT, COUNT(DISTINCT o.order_id) \
         FROM orders o JOIN order_lines l USING (order_id) \
         WHERE l.sku = $1 AND o.status = ANY($2)",
    )
    .bind(sku)
    .bind(SOLD_STATUSES)
    .fetch_one(pool)
    .await
    .expect("sold orders");
    let (committed, held): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(quantity) FILTER (WHERE status = 'committed'), 0)::BIGINT, \
                COUNT(*) FILTER (WHERE status = 'held') \
         FROM reservations WHERE sku = $1",
    )
    .bind(sku)
    .fetch_one(pool)
    .await
    .expect("reservations");
    let (unfinished, orders_failed, disagreeing): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE o.status IN ('pending', 'reserved', 'confirmed')), \
                COUNT(*) FILTER (WHERE o.status = 'failed'), \
                COUNT(*) FILTER (WHERE s.order_id IS NULL \
                    OR NOT ((s.step = 'completed' AND o.status = 'fulfillment_requested') \
                         OR (s.step = 'failed' AND o.status = 'failed'))) \
         FROM orders o LEFT JOIN checkout_sagas s USING (order_id)",
    )
    .fetch_one(pool)
    .await
    .expect("orders and sagas");
    println!(
        "  books of {sku}: stock {stock}, on hand {on_hand}, reserved {reserved}, sold {sold}; \
         {orders_sold} sold orders ({sold_by_orders} units), {orders_failed} failed orders, \
         committed reservations {committed} units, held {held}"
    );
    assert!(on_hand >= 0 && sold >= 0, "no negative stock");
    assert_eq!(reserved, 0, "no stock held once every saga settled");
    assert_eq!(held, 0, "no reservation left held");
    assert_eq!(
        sold, sold_by_orders,
        "units sold are the sold orders' units"
    );
    assert_eq!(sold, committed, "units sold are the committed reservations");
    assert_eq!(on_hand + sold, stock, "every unit is on hand or sold");
    assert!(sold <= stock, "nothing oversold");
    assert_eq!(unfinished, 0, "every order reached a final status");
    assert_eq!(disagreeing, 0, "every order agrees with its saga");
    let api = app.inventory(sku).await;
    assert_eq!(
        (
            api["on_hand"].as_i64(),
            api["reserved"].as_i64(),
            api["sold"].as_i64()
        ),
        (Some(on_hand), Some(reserved), Some(sold)),
        "the inventory actor's memory equals the table: {api}"
    );
    println!("  checked: sold = sold orders' units = committed reservations <= stock, nothing held, API = table");
    Sale { sold, orders_sold }
}

/// Every order acknowledged with 201 is in the tables, sold, with its reservation committed,
/// and the API serves it as the table holds it.
pub async fn assert_acknowledged_exist(
    pool: &PgPool,
    app: &TestApp,
    sku: &str,
    attempts: &[Attempt],
) -> usize {
    let mut acknowledged = 0;
    for attempt in attempts {
        let Some(id) = attempt.acknowledged_order() else {
            continue;
        };
        acknowledged += 1;
        let order_id = uuid::Uuid::parse_str(id).expect("order id is a UUID");
        let row: Option<(String,)> =
            sqlx::query_as("SELECT status FROM orders WHERE order_id = $1")
                .bind(order_id)
                .fetch_optional(pool)
                .await
                .expect("order row");
        assert_eq!(
            row.map(|(s,)| s).as_deref(),
            Some("fulfillment_requested"),
            "acknowledged order {id} ({}) is stored and sold",
            attempt.key
        );
        // The saga derives the reservation id from the order and the SKU.
        let reservation = uuid::Uuid::new_v5(&order_id, sku.as_bytes());
        let held: Option<(String, i64)> =
            sqlx::query_as("SELECT status, quantity FROM reservations WHERE reservation_id = $1")
                .bind(reservation)
                .fetch_optional(pool)
                .await
                .expect("reservation row");
        assert_eq!(
            held,
            Some(("committed".to_string(), i64::from(attempt.quantity))),
            "the reservation of acknowledged order {id} is committed"
        );
        let served = app.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(served.status, 200, "{served:?}");
        assert_eq!(served.body["status"], "fulfillment_requested", "{served:?}");
    }
    println!("  checked: all {acknowledged} acknowledged orders are stored, sold, their reservations committed, and served by the API");
    acknowledged
}

/// Every order the tables hold is served by the API with the status the table holds: no order
/// actor's memory drifted from the store.
pub async fn assert_orders_match_api(pool: &PgPool, app: &TestApp) -> usize {
    let orders: Vec<(uuid::Uuid, String)> = sqlx::query_as("SELECT order_id, status FROM orders")
        .fetch_all(pool)
        .await
        .expect("orders");
    for (id, status) in &orders {
        let served = app.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(served.status, 200, "{served:?}");
        assert_eq!(
            served.body["status"],
            status.as_str(),
            "order {id}: API = table"
        );
    }
    println!(
        "  checked: all {} stored orders are served with their stored status",
        orders.len()
    );
    orders.len()
}

/// The outbox holds, for every aggregate, the sequence numbers 1..=n with none missing (the
/// unique index rules out duplicates, so a minimum of 1 and a maximum equal to the count is
/// contiguity). Returns (aggregates, rows).
pub async fn assert_outbox_contiguous(pool: &PgPool) -> (i64, i64) {
    let gaps: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT aggregate_type, aggregate_id, COUNT(*), MIN(sequence), MAX(sequence) \
         FROM outbox GROUP BY aggregate_type, aggregate_id \
         HAVING MIN(sequence) <> 1 OR MAX(sequence) <> COUNT(*)",
    )
    .fetch_all(pool)
    .await
    .expect("outbox gaps");
    assert!(
        gaps.is_empty(),
        "per-aggregate gaps in the outbox: {gaps:?}"
    );
    let (aggregates, rows): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(DISTINCT (aggregate_type, aggregate_id)), COUNT(*) FROM outbox",
    )
    .fetch_one(pool)
    .await
    .expect("outbox size");
    // Each state row's version is its last event's sequence: no state committed without its
    // events, and no events without their state.
    let (stale,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM orders o WHERE o.version <> COALESCE((SELECT MAX(sequence) \
                 FROM outbox x WHERE x.aggregate_type = 'order' AND x.aggregate_id = o.order_id::TEXT), 0)) \
              + (SELECT COUNT(*) FROM inventory i WHERE i.version <> COALESCE((SELECT MAX(sequence) \
                 FROM outbox x WHERE x.aggregate_type = 'inventory' AND x.aggregate_id = i.sku), 0))",
    )
    .fetch_one(pool)
    .await
    .expect("versions against the outbox");
    assert_eq!(
        stale, 0,
        "every order and SKU version is its last outbox sequence"
    );
    println!("  checked: outbox sequences contiguous from 1 for all {aggregates} aggregates ({rows} rows); order and SKU versions = last sequence");
    (aggregates, rows)
}

/// Exactly one shipment request per confirmed order, however often the saga was resumed: every
/// order whose units count as sold has exactly one `order.fulfillment_requested` fact, and no
/// other order has one. (The shipping provider is asked with the order id as its idempotency
/// key, so a resumed saga's repeated request names the same shipment.)
pub async fn assert_one_shipment_per_sold_order(pool: &PgPool) -> i64 {
    let (sold, wrong): (i64, i64) = sqlx::query_as(
        "WITH shipments AS ( \
           SELECT aggregate_id, COUNT(*) AS n FROM outbox \
           WHERE aggregate_type = 'order' AND event_type = 'order.fulfillment_requested' \
           GROUP BY aggregate_id) \
         SELECT COUNT(*) FILTER (WHERE o.status = ANY($1)), \
                COUNT(*) FILTER (WHERE COALESCE(s.n, 0) <> CASE WHEN o.status = ANY($1) THEN 1 ELSE 0 END) \
         FROM orders o LEFT JOIN shipments s ON s.aggregate_id = o.order_id::TEXT",
    )
    .bind(SOLD_STATUSES)
    .fetch_one(pool)
    .await
    .expect("shipments");
    assert_eq!(
        wrong, 0,
        "{wrong} orders without exactly one shipment request"
    );
    println!("  checked: each of the {sold} sold orders has exactly one shipment request, no other order has one");
    sold
}
