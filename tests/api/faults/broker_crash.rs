//! Broker outage and relay crash, combined with the crash test: the real binary publishes to a
//! Kafka-protocol broker (librdkafka's mock cluster, over TCP) through its in-process relay and
//! consumes the facts back through its consumers. During a flash sale the whole cluster goes
//! down, the server is SIGKILLed while the outbox backs up, the cluster returns, and the server is
//! SIGKILLed again while the relay drains the backlog (between publishing and marking rows
//! published, most likely). Afterwards the books balance as in the crash test, the outbox has
//! drained, Kafka holds every committed event in per-aggregate order, and the consumers' read
//! model and notifications hold each order exactly once however often its events were delivered.

use super::books;
use super::load::Load;
use crate::helpers::{fresh_postgres_database, BinaryConfig};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::ClientConfig;
use sqlx::PgPool;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

const SKU: &str = "BROKER-CRASH";
const STOCK: u32 = 400;
const BUYERS: usize = 8;
const BROKERS: i32 = 3;
const PREFIX: &str = "faults";
/// Answers before each step, so every step lands mid-sale.
const ANSWERS_PER_STEP: u64 = 25;
/// How long the relay may take to drain the backlog once the cluster is back and the last
/// restart is done (its backoff is capped at 10 s).
const DRAIN_BOUND: Duration = Duration::from_secs(60);
/// How long the sagas may take to settle after the load stops.
const SETTLE_BOUND: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_and_crashes_mid_sale_lose_no_event_and_apply_none_twice() {
    let cluster = MockCluster::new(BROKERS).expect("mock cluster");
    let brokers = cluster.bootstrap_servers();
    let database_url = fresh_postgres_database().await;
    let pool = books::connect(&database_url).await;
    let binary = BinaryConfig::new(Some(database_url))
        .env("KAFKA_BROKERS", &brokers)
        .env("KAFKA_TOPIC_PREFIX", PREFIX)
        // A short lease, so rows claimed by a killed relay are claimed again within seconds.
        .env("RELAY_PUBLISH_TIMEOUT_MS", 2_000)
        .env("RELAY_LEASE_MS", 4_000);
    let mut server = binary.start().await;
    server.app.product_with_stock(SKU, 999, STOCK).await;
    println!(
        "broker+crash: {BUYERS} buyers of {SKU} (stock {STOCK}) against the binary on Postgres, \
         publishing to {BROKERS} mock Kafka brokers at {brokers}"
    );
    let load = Load::start(&server.app.address, SKU, BUYERS);
    load.wait_for_answers(0, ANSWERS_PER_STEP, Duration::from_secs(60))
        .await;

    for id in 1..=BROKERS {
        cluster.broker_down(id).expect("broker down");
    }
    let outage = Instant::now();
    println!("the whole Kafka cluster is down");
    load.wait_for_answers(load.answered(), ANSWERS_PER_STEP, Duration::from_secs(60))
        .await;
    let pid = server.pid();
    server.kill9();
    println!(
        "SIGKILL pid {pid} during the outage; {} unpublished outbox rows, {} orders in the read model",
        unpublished(&pool).await,
        viewed(&pool).await
    );
    server = binary.start().await;
    load.wait_for_answers(load.answered(), ANSWERS_PER_STEP, Duration::from_secs(60))
        .await;
    assert!(
        load.acknowledged_since(outage),
        "checkouts keep succeeding while the broker is down"
    );
    let backlog = unpublished(&pool).await;
    assert!(backlog > 0, "the outbox grows while the broker is down");
    for id in 1..=BROKERS {
        cluster.broker_up(id).expect("broker up");
    }
    println!(
        "the cluster is back after {:?}, with {backlog} unpublished outbox rows; orders kept being acknowledged",
        outage.elapsed()
    );
    // Kill the relay while it drains the backlog: some rows are published but not yet marked.
    wait_until_published_moves(&pool, backlog).await;
    let pid = server.pid();
    server.kill9();
    println!(
        "SIGKILL pid {pid} while the relay drained; {} rows still unpublished, {} orders in the read model",
        unpublished(&pool).await,
        viewed(&pool).await
    );
    server = binary.start().await;
    let attempts = load.finish(ANSWERS_PER_STEP, Duration::from_secs(60)).await;
    let settled = books::sagas_settle(&pool, SETTLE_BOUND).await;
    println!("every saga completed or compensated {settled:?} after the load stopped");

    let acknowledged = books::assert_acknowledged_exist(&pool, &server.app, SKU, &attempts).await;
    assert!(acknowledged > 0, "the sale sold something");
    books::assert_books_balance(&pool, &server.app, SKU, i64::from(STOCK)).await;
    books::assert_orders_match_api(&pool, &server.app).await;
    let (_, rows) = books::assert_outbox_contiguous(&pool).await;
    books::assert_one_shipment_per_sold_order(&pool).await;

    let drained = Instant::now();
    while unpublished(&pool).await > 0 {
        assert!(
            drained.elapsed() < DRAIN_BOUND,
            "the outbox did not drain within {DRAIN_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "  checked: the outbox drained ({rows} rows published) {:?} after the load stopped",
        drained.elapsed()
    );
    assert_kafka_holds_the_outbox(&pool, &brokers).await;
    assert_consumers_applied_each_order_once(&pool).await;
    server.kill9();
}

async fn unpublished(pool: &PgPool) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .expect("unpublished rows");
    n
}

/// Orders the read-model consumer has projected.
async fn viewed(pool: &PgPool) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM order_views")
        .fetch_one(pool)
        .await
        .expect("read-model rows");
    n
}

/// Waits (bounded) until the relay has marked some of the backlog published.
async fn wait_until_published_moves(pool: &PgPool, backlog: i64) {
    let deadline = Instant::now() + DRAIN_BOUND;
    loop {
        let (published,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL")
                .fetch_one(pool)
                .await
                .expect("published rows");
        if published > 0 && unpublished(pool).await < backlog {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the relay published nothing within {DRAIN_BOUND:?} of the cluster's return"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every outbox row is on its topic, keyed by its aggregate, and each aggregate's first
/// deliveries come in sequence order 1..=n; redeliveries (the crash between publish and mark)
/// are counted, not hidden.
async fn assert_kafka_holds_the_outbox(pool: &PgPool, brokers: &str) {
    let rows: Vec<(uuid::Uuid, String, String, i64, String)> = sqlx::query_as(
        "SELECT event_id, aggregate_type, aggregate_id, sequence, event_type FROM outbox",
    )
    .fetch_all(pool)
    .await
    .expect("outbox rows");
    let topic_of = |aggregate_type: &str, event_type: &str| {
        let stream = if event_type.starts_with("order.payment_") {
            "payment"
        } else {
            aggregate_type
        };
        format!("{PREFIX}.{stream}")
    };
    let mut topics: Vec<String> = rows.iter().map(|r| topic_of(&r.1, &r.4)).collect();
    topics.sort();
    topics.dedup();
    let expected: HashSet<String> = rows.iter().map(|r| r.0.hyphenated().to_string()).collect();

    let received = read_all(brokers, &topics, &expected).await;
    let mut first: HashSet<String> = HashSet::new();
    let mut duplicates = 0;
    // Per (topic, key): sequences of first deliveries in offset order.
    let mut sequences: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for (topic, key, id, sequence) in &received {
        if !first.insert(id.clone()) {
            duplicates += 1;
            continue;
        }
        sequences
            .entry((topic.clone(), key.clone()))
            .or_default()
            .push(*sequence);
    }
    let missing: Vec<&String> = expected.difference(&first).collect();
    assert!(
        missing.is_empty(),
        "{} committed events never reached Kafka: {missing:?}",
        missing.len()
    );
    for ((topic, key), seqs) in &sequences {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{topic}/{key} out of order: {seqs:?}"
        );
    }
    // Every outbox row arrived and the outbox is contiguous per aggregate (checked before), so
    // no aggregate has a gap on Kafka either.
    let aggregates: HashSet<(&str, &str)> =
        rows.iter().map(|r| (r.1.as_str(), r.2.as_str())).collect();
    println!(
        "  checked: Kafka holds all {} committed events on {} topics, each aggregate's in order \
         ({} aggregates); {duplicates} redelivered after the crash",
        expected.len(),
        topics.len(),
        aggregates.len()
    );
}

/// Reads `topics` from the beginning until every expected event id arrived and a quiet moment
/// passed, or a bound passes: (topic, key, ce_id, ce_sequence) in arrival order per partition.
async fn read_all(
    brokers: &str,
    topics: &[String],
    expected: &HashSet<String>,
) -> Vec<(String, String, String, i64)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("faults-reader-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .expect("test consumer");
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    loop {
        let complete = expected.is_subset(&seen);
        let quiet = Duration::from_millis(if complete { 1_500 } else { 500 });
        match tokio::time::timeout(quiet, consumer.recv()).await {
            Ok(Ok(m)) => {
                let header = |name: &str| {
                    m.headers()
                        .and_then(|h| {
                            h.iter()
                                .find(|h| h.key == name)
                                .and_then(|h| h.value)
                                .map(|v| String::from_utf8_lossy(v).into_owned())
                        })
                        .unwrap_or_default()
                };
                let id = header("ce_id");
                let sequence = header("ce_sequence").parse().expect("ce_sequence");
                let key = m
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default();
                seen.insert(id.clone());
                out.push((m.topic().to_owned(), key, id, sequence));
            }
            Ok(Err(e)) => eprintln!("test reader: {e}"),
            Err(_) if complete => break,
            Err(_) => {}
        }
        if Instant::now() > deadline {
            break;
        }
    }
    out
}

/// The consumers caught up (bounded) and applied each order exactly once: one read-model row
/// per order with the order's status, one notification per order and final outcome, nothing in
/// the dead letters.
async fn assert_consumers_applied_each_order_once(pool: &PgPool) {
    let deadline = Instant::now() + DRAIN_BOUND;
    loop {
        let (orders, viewed, stale, confirmed, failed, notified_confirmed, notified_failed): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM orders), \
                    (SELECT COUNT(*) FROM order_views), \
                    (SELECT COUNT(*) FROM orders o LEFT JOIN order_views v USING (order_id) \
                      WHERE v.status IS DISTINCT FROM o.status), \
                    (SELECT COUNT(*) FROM orders WHERE status = 'fulfillment_requested'), \
                    (SELECT COUNT(*) FROM orders WHERE status = 'failed'), \
                    (SELECT COUNT(*) FROM notifications WHERE kind = 'order_confirmed'), \
                    (SELECT COUNT(*) FROM notifications WHERE kind = 'order_failed')",
        )
        .fetch_one(pool)
        .await
        .expect("consumer figures");
        let caught_up = stale == 0
            && viewed == orders
            && notified_confirmed == confirmed
            && notified_failed == failed;
        if caught_up {
            let (dead,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM dead_letters")
                .fetch_one(pool)
                .await
                .expect("dead letters");
            assert_eq!(dead, 0, "no event was dead-lettered");
            let (inboxed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM inbox")
                .fetch_one(pool)
                .await
                .expect("inbox");
            assert_eq!(
                inboxed, 0,
                "the built-in consumers deduplicate by their own keys, with no inbox rows"
            );
            println!(
                "  checked: the read model holds all {orders} orders with their stored status; \
                 {notified_confirmed} confirmed and {notified_failed} failed notifications, one \
                 per order, through redeliveries, with no inbox rows; no dead letters"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "consumers did not catch up within {DRAIN_BOUND:?}: {orders} orders, {viewed} viewed, \
             {stale} stale, {confirmed}/{notified_confirmed} confirmed, {failed}/{notified_failed} failed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
