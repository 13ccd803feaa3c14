//! The relay publishing to Kafka: exactness, order, several relays, outages, crashes.

use std::sync::Arc;
use std::time::Duration;

use relay::publish::{KafkaPublisher, Publisher};
use relay::{Relay, RelayConfig};
use tokio::sync::watch;

use crate::harness::*;

fn config(publish_timeout_ms: u64) -> RelayConfig {
    RelayConfig {
        batch_size_max: 50,
        publish_timeout: Duration::from_millis(publish_timeout_ms),
        lease: Duration::from_millis(publish_timeout_ms * 3),
        idle_poll: Duration::from_millis(50),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..RelayConfig::default()
    }
}

fn relay_to(world: &World, brokers: &str, cfg: RelayConfig) -> Relay {
    let publisher =
        KafkaPublisher::new(brokers, &cfg.topic_prefix, cfg.publish_timeout).expect("producer");
    Relay::new(world.db.clone(), Arc::new(publisher), cfg)
}

/// Some real traffic: two products, stock, confirmed, declined and cancelled orders.
async fn traffic(world: &World) {
    let a = world.stock("SKU-A", 50).await;
    let b = world.stock("SKU-B", 50).await;
    let c = customer();
    world.buy(c, &a, "tok_visa").await;
    world.buy(c, &b, "tok_decline").await;
    let cancelled = world.buy(c, &a, "tok_visa").await;
    world
        .commerce
        .cancel_order(cancelled)
        .await
        .expect("cancel before shipment");
}

async fn drain(relay: &Relay) {
    for _ in 0..1_000 {
        let pass = relay.pass().await.expect("relay pass");
        if pass.claimed == 0 {
            return;
        }
    }
    panic!("the outbox did not drain");
}

/// Every committed row reaches Kafka once, as committed: topic per aggregate type (payments
/// apart), key = aggregate id, the CloudEvents headers, the JSON payload; in order per key.
async fn every_row_reaches_kafka_as_committed(backend: Backend) {
    let world = World::new(backend).await;
    let cluster = mock_cluster(3);
    let brokers = cluster.bootstrap_servers();
    traffic(&world).await;
    let rows = world.outbox().await;
    assert!(rows.len() > 10, "traffic wrote {} rows", rows.len());

    let relay = relay_to(&world, &brokers, config(5_000));
    drain(&relay).await;
    assert_eq!(world.pending().await, 0);
    assert_eq!(
        relay.metrics().snapshot().published_total,
        rows.len() as u64
    );

    let topics = topics_of(&rows, "commerce");
    assert!(
        topics.contains(&"commerce.payment".to_owned()),
        "{topics:?}"
    );
    let received = read_topics(&brokers, &topics, rows.len(), Duration::from_secs(30)).await;
    assert_eq!(
        received.len(),
        rows.len(),
        "each row exactly once without failures"
    );
    for row in &rows {
        let id = row.event_id.hyphenated().to_string();
        let m = received
            .iter()
            .find(|m| m.header("ce_id") == id)
            .unwrap_or_else(|| panic!("{} {} never reached Kafka", row.event_type, id));
        assert_eq!(m.topic, row.topic("commerce"));
        assert_eq!(m.key, row.aggregate_id);
        assert_eq!(m.header("ce_type"), row.event_type);
        assert_eq!(m.header("ce_subject"), row.aggregate_id);
        assert_eq!(
            m.header("ce_source"),
            format!("/commerce/{}", row.aggregate_type)
        );
        assert_eq!(m.header("ce_specversion"), "1.0");
        assert_eq!(m.header("ce_sequence"), row.sequence.to_string());
        assert_eq!(m.header("ce_schemaversion"), row.schema_version.to_string());
        assert_eq!(m.header("content-type"), "application/json");
        assert_eq!(
            relay::envelope::parse_rfc3339_ms(m.header("ce_time")),
            Some(row.occurred_at_ms)
        );
        let sent: serde_json::Value = serde_json::from_str(&m.payload).expect("JSON payload");
        let committed: serde_json::Value = serde_json::from_str(&row.payload).expect("JSON row");
        assert_eq!(sent, committed);
    }
    assert_in_order(&received);
    drop(cluster);
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_every_row_reaches_kafka_as_committed() {
    every_row_reaches_kafka_as_committed(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_every_row_reaches_kafka_as_committed() {
    every_row_reaches_kafka_as_committed(Backend::Sqlite).await;
}

/// Two relays claim concurrently, in small batches, while the runtime keeps committing: every
/// aggregate's events still reach Kafka in order, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_keep_per_aggregate_order() {
    let world = World::new(Backend::Postgres).await;
    let cluster = mock_cluster(3);
    let brokers = cluster.bootstrap_servers();
    let skus = [world.stock("HOT-1", 1).await, world.stock("HOT-2", 1).await];
    let (stop_tx, stop_rx) = watch::channel(false);
    let small = RelayConfig {
        batch_size_max: 7,
        ..config(15_000)
    };
    let one = relay_to(&world, &brokers, small.clone());
    let two = relay_to(&world, &brokers, small);
    let (m1, m2) = (one.metrics(), two.metrics());
    let tasks = [
        tokio::spawn(one.run(stop_rx.clone())),
        tokio::spawn(two.run(stop_rx)),
    ];
    // Restocks commit one inventory event each, racing the relays' claims.
    for round in 0..40 {
        for sku in &skus {
            world
                .commerce
                .restock(sku.clone(), domain::Quantity::new(1 + round).expect("qty"))
                .await
                .expect("restock");
        }
    }
    let c = customer();
    for _ in 0..4 {
        world.buy(c, &skus[0], "tok_visa").await;
    }
    assert!(
        eventually(Duration::from_secs(60), || async {
            world.pending().await == 0
        })
        .await
    );
    let _ = stop_tx.send(true);
    for t in tasks {
        t.await.expect("relay task");
    }
    let rows = world.outbox().await;
    let published = m1.snapshot().published_total + m2.snapshot().published_total;
    assert_eq!(published, rows.len() as u64);
    let topics = topics_of(&rows, "commerce");
    let received = read_topics(&brokers, &topics, rows.len(), Duration::from_secs(30)).await;
    let failed = m1.snapshot().failed_total + m2.snapshot().failed_total;
    if failed == 0 {
        // Two relays never publish the same row: only a failed publish repeats one.
        assert_eq!(received.len(), rows.len(), "duplicates without failures");
    }
    let ids: std::collections::HashSet<&str> = received.iter().map(|m| m.header("ce_id")).collect();
    assert_eq!(ids.len(), rows.len(), "every row reached Kafka");
    assert_in_order(&received);
    for ((topic, key), seqs) in sequences_by_key(&received) {
        if topic == "commerce.inventory" {
            let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
            assert_eq!(seqs, expected, "{key}: every event, contiguous");
        }
    }
    drop(cluster);
    world.close().await;
}

/// All brokers down: checkouts keep succeeding and the outbox grows; brokers back: the backlog
/// drains and nothing is lost or reordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_outage_delays_but_loses_nothing() {
    let world = World::new(Backend::Postgres).await;
    let cluster = mock_cluster(3);
    let brokers = cluster.bootstrap_servers();
    let sku = world.stock("OUTAGE-1", 100).await;
    let relay = relay_to(&world, &brokers, config(1_500));
    let metrics = relay.metrics();
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(relay.run(stop_rx));
    assert!(
        eventually(Duration::from_secs(30), || async {
            world.pending().await == 0
        })
        .await
    );
    let before = metrics.snapshot().published_total;

    for id in 1..=3 {
        cluster.broker_down(id).expect("broker down");
    }
    let c = customer();
    for _ in 0..5 {
        let order = world.buy(c, &sku, "tok_visa").await;
        let order = world.commerce.order(order).await.expect("order");
        assert_eq!(order.status().as_str(), "fulfillment_requested");
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = metrics.snapshot();
    assert!(
        world.pending().await > 0,
        "the outbox grows during the outage"
    );
    assert!(
        during.failed_total > 0,
        "publishing failed during the outage: {during:?}"
    );
    assert!(during.pending > 0 && during.lag_ms > 0, "{during:?}");

    for id in 1..=3 {
        cluster.broker_up(id).expect("broker up");
    }
    assert!(
        eventually(Duration::from_secs(60), || async {
            world.pending().await == 0
        })
        .await,
        "the backlog drains after the outage"
    );
    let _ = stop_tx.send(true);
    task.await.expect("relay task");
    assert!(metrics.snapshot().published_total > before);

    let rows = world.outbox().await;
    let topics = topics_of(&rows, "commerce");
    let ids: std::collections::HashSet<String> = rows
        .iter()
        .map(|r| r.event_id.hyphenated().to_string())
        .collect();
    let received = read_topics_until(&brokers, &topics, Duration::from_secs(30), |got| {
        let seen: std::collections::HashSet<&str> = got.iter().map(|m| m.header("ce_id")).collect();
        ids.iter().all(|id| seen.contains(id.as_str()))
    })
    .await;
    eprintln!(
        "outage: {} rows, {} records on Kafka",
        rows.len(),
        received.len()
    );
    for row in &rows {
        let id = row.event_id.hyphenated().to_string();
        assert!(
            received.iter().any(|m| m.header("ce_id") == id),
            "{} {id} lost",
            row.event_type
        );
    }
    assert_in_order(&received);
    drop(cluster);
    world.close().await;
}

/// A relay that published a batch and died before marking it: its lease runs out, another
/// relay publishes the rows again (at least once), and the outbox drains.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_crash_after_publishing_republishes_after_the_lease() {
    let world = World::new(Backend::Postgres).await;
    let cluster = mock_cluster(3);
    let brokers = cluster.bootstrap_servers();
    traffic(&world).await;
    let rows = world.outbox().await;

    // The crashed relay: claims with a short lease and publishes, then is gone.
    let crashed = uuid::Uuid::new_v4();
    let lease_ends = tokio::time::Instant::now() + Duration::from_secs(4);
    let claimed = world.db.claim(crashed, 1_000, 4_000).await.expect("claim");
    assert_eq!(claimed.len(), rows.len());
    let publisher =
        KafkaPublisher::new(&brokers, "commerce", Duration::from_secs(5)).expect("producer");
    assert!(publisher.publish(&claimed).await.iter().all(Result::is_ok));
    drop(publisher);

    // While the lease holds, nobody else takes the rows.
    let other = relay_to(&world, &brokers, config(5_000));
    assert_eq!(other.pass().await.expect("pass").claimed, 0);
    tokio::time::sleep_until(lease_ends + Duration::from_millis(200)).await;
    drain(&other).await;
    assert_eq!(world.pending().await, 0);

    let topics = topics_of(&rows, "commerce");
    let received = read_topics(&brokers, &topics, 2 * rows.len(), Duration::from_secs(30)).await;
    assert_eq!(
        received.len(),
        2 * rows.len(),
        "every row twice: at least once"
    );
    assert_in_order(&received);
    drop(cluster);
    world.close().await;
}

/// How fast one relay drains a backlog to the mock cluster (not a pass/fail test; run with
/// `cargo test -p relay --release --test pipeline relay_throughput -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a check"]
async fn relay_throughput() {
    let world = World::new(Backend::Postgres).await;
    let cluster = mock_cluster(3);
    let brokers = cluster.bootstrap_servers();
    let relay::Db::Postgres(pool) = &world.db else {
        unreachable!("a Postgres world")
    };
    // 20,000 rows over 200 aggregates (`RELAY_BENCH_AGGREGATES`; 1 = one hot SKU), as a flash
    // sale's backlog after an outage would be.
    let aggregates: i64 = std::env::var("RELAY_BENCH_AGGREGATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    sqlx::query(
        "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, sequence, event_type, \
         schema_version, payload, created_at) \
         SELECT gen_random_uuid(), 'inventory', 'SKU-' || (n % $1), n / $1 + 1, \
         'inventory.restocked', 1, jsonb_build_object('sku', 'SKU-' || (n % $1), 'quantity', 1), \
         now() + n * INTERVAL '1 microsecond' FROM generate_series(0, 19999) AS n",
    )
    .bind(aggregates)
    .execute(pool)
    .await
    .expect("backlog");
    let cfg = RelayConfig {
        batch_size_max: RelayConfig::default().batch_size_max,
        ..config(10_000)
    };
    if std::env::var("RELAY_BENCH_CLAIM").is_ok() {
        let t = std::time::Instant::now();
        let claimed = world
            .db
            .claim(uuid::Uuid::new_v4(), 500, 1)
            .await
            .expect("claim");
        eprintln!("one claim of {}: {:?}", claimed.len(), t.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let relay = relay_to(&world, &brokers, cfg);
    let started = std::time::Instant::now();
    drain(&relay).await;
    let elapsed = started.elapsed();
    eprintln!(
        "relay drained 20000 rows in {:.2} s: {:.0} rows/s",
        elapsed.as_secs_f64(),
        20_000.0 / elapsed.as_secs_f64()
    );
    assert_eq!(world.pending().await, 0);
    drop(cluster);
    world.close().await;
}

/// How fast one relay drains a flash sale's backlog, and whether the hot SKU's events keep pace
/// with the rest (first in, first out): 20,000 rows, half of them one hot SKU's (a reservation and a commit per order), the rest
/// 2,500 orders' four events each, interleaved in commit order. Not a pass/fail test; run with
/// `cargo test -p relay --release --test pipeline relay_throughput_flash_sale -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a check"]
async fn relay_throughput_flash_sale() {
    let world = World::new(Backend::Postgres).await;
    let cluster = mock_cluster(3);
    let brokers = cluster.bootstrap_servers();
    let relay::Db::Postgres(pool) = &world.db else {
        unreachable!("a Postgres world")
    };
    sqlx::query(
        "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, sequence, event_type, \
         schema_version, payload, created_at) \
         SELECT gen_random_uuid(), \
                CASE WHEN n % 2 = 0 THEN 'inventory' ELSE 'order' END, \
                CASE WHEN n % 2 = 0 THEN 'HOT' ELSE 'O-' || (n / 8) END, \
                CASE WHEN n % 2 = 0 THEN n / 2 + 1 ELSE (n / 2) % 4 + 1 END, \
                CASE WHEN n % 2 = 0 THEN 'inventory.reserved' ELSE 'order.placed' END, 1, \
                jsonb_build_object('n', n), now() + n * INTERVAL '1 microsecond' \
         FROM generate_series(0, 19999) AS n",
    )
    .execute(pool)
    .await
    .expect("backlog");
    let relay = relay_to(
        &world,
        &brokers,
        RelayConfig {
            batch_size_max: RelayConfig::default().batch_size_max,
            ..config(10_000)
        },
    );
    let started = std::time::Instant::now();
    let (mut passes, mut published, mut hot_at_half) = (0, 0, None);
    loop {
        let pass = relay.pass().await.expect("relay pass");
        passes += 1;
        published += pass.published;
        if hot_at_half.is_none() && published >= 10_000 {
            let (hot,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM outbox WHERE aggregate_id = 'HOT' AND published_at IS NOT NULL",
            )
            .fetch_one(pool)
            .await
            .expect("hot published");
            hot_at_half = Some(hot);
        }
        if pass.claimed == 0 || passes > 2_000 {
            break;
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "relay drained 20000 flash-sale rows in {:.2} s ({:.0} rows/s, {passes} passes); when \
         half the rows were out, {} of them were the hot SKU's (FIFO: about 5000)",
        elapsed.as_secs_f64(),
        20_000.0 / elapsed.as_secs_f64(),
        hot_at_half.unwrap_or(0)
    );
    assert_eq!(world.pending().await, 0);
    drop(cluster);
    world.close().await;
}

/// A claim takes the oldest unpublished rows first, whatever their aggregate, and only a prefix
/// of each aggregate's rows: a hot aggregate behind a crowd of cold ones (a flash sale's SKU
/// among its orders) is not held to one row per batch, and the crowd is not held back by it.
async fn a_claim_takes_the_oldest_rows_first_as_prefixes(backend: Backend) {
    let world = World::new(backend).await;
    // 600 rows in commit order: even ones the hot SKU's (sequences 1..=300), odd ones 150
    // orders' (two each).
    for n in 0..600i64 {
        let (kind, id, sequence) = if n % 2 == 0 {
            ("inventory", "HOT".to_owned(), n / 2 + 1)
        } else {
            ("order", format!("O-{}", n / 4), (n / 2) % 2 + 1)
        };
        world.insert_outbox_row(kind, &id, sequence, n).await;
    }
    let claimed = world
        .db
        .claim(uuid::Uuid::new_v4(), 100, 60_000)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 100);
    let hot: Vec<i64> = claimed
        .iter()
        .filter(|e| e.aggregate_id == "HOT")
        .map(|e| e.sequence)
        .collect();
    assert_eq!(
        hot,
        (1..=50).collect::<Vec<_>>(),
        "the hot SKU's oldest 50 rows, in order"
    );
    let orders: std::collections::BTreeSet<String> = claimed
        .iter()
        .filter(|e| e.aggregate_type == "order")
        .map(|e| format!("{}#{}", e.aggregate_id, e.sequence))
        .collect();
    let expected: std::collections::BTreeSet<String> = (0..25)
        .flat_map(|o| [format!("O-{o}#1"), format!("O-{o}#2")])
        .collect();
    assert_eq!(orders, expected, "the 25 oldest orders, both rows each");
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_claim_takes_the_oldest_rows_first_as_prefixes() {
    a_claim_takes_the_oldest_rows_first_as_prefixes(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_claim_takes_the_oldest_rows_first_as_prefixes() {
    a_claim_takes_the_oldest_rows_first_as_prefixes(Backend::Sqlite).await;
}

/// A claim never takes rows behind another relay's live lease: an aggregate whose oldest
/// unpublished row is leased elsewhere is left alone entirely, and the rest is still taken.
async fn a_claim_leaves_an_aggregate_with_a_leased_head_alone(backend: Backend) {
    let world = World::new(backend).await;
    // Commit order: A#1, B#1, A#2, B#2, A#3.
    let rows = [("A", 1), ("B", 1), ("A", 2), ("B", 2), ("A", 3)];
    for (n, (id, sequence)) in (0..).zip(rows) {
        world.insert_outbox_row("order", id, sequence, n).await;
    }
    let other = uuid::Uuid::new_v4();
    let first = world.db.claim(other, 1, 60_000).await.expect("claim");
    let taken: Vec<_> = first
        .iter()
        .map(|e| (e.aggregate_id.as_str(), e.sequence))
        .collect();
    assert_eq!(
        taken,
        [("A", 1)],
        "the oldest row, alone under a bound of 1"
    );
    let second = world
        .db
        .claim(uuid::Uuid::new_v4(), 100, 60_000)
        .await
        .expect("claim");
    let taken: Vec<_> = second
        .iter()
        .map(|e| (e.aggregate_id.as_str(), e.sequence))
        .collect();
    assert_eq!(
        taken,
        [("B", 1), ("B", 2)],
        "B's rows; none of A's while A#1 is leased to another relay"
    );
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_claim_leaves_an_aggregate_with_a_leased_head_alone() {
    a_claim_leaves_an_aggregate_with_a_leased_head_alone(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_claim_leaves_an_aggregate_with_a_leased_head_alone() {
    a_claim_leaves_an_aggregate_with_a_leased_head_alone(Backend::Sqlite).await;
}

/// A claim's lease holds every row it took, behind each aggregate's head too (on Postgres only
/// the heads carry a lease): another relay takes none of them and marks none of them, and the
/// relay holding the lease marks them all.
async fn a_lease_holds_the_rows_behind_the_head(backend: Backend) {
    let world = World::new(backend).await;
    let rows = [("A", 1), ("A", 2), ("B", 1), ("A", 3)];
    for (n, (id, sequence)) in (0..).zip(rows) {
        world.insert_outbox_row("order", id, sequence, n).await;
    }
    let holder = uuid::Uuid::new_v4();
    let held = world.db.claim(holder, 100, 60_000).await.expect("claim");
    let taken: Vec<_> = held
        .iter()
        .map(|e| (e.aggregate_id.as_str(), e.sequence))
        .collect();
    assert_eq!(taken, [("A", 1), ("A", 2), ("A", 3), ("B", 1)]);

    let other = uuid::Uuid::new_v4();
    let second = world.db.claim(other, 100, 60_000).await.expect("claim");
    assert!(
        second.is_empty(),
        "no row behind a leased head is taken: {second:?}"
    );
    let rows: Vec<_> = held.iter().collect();
    assert_eq!(
        world.db.mark_published(other, &rows).await.expect("mark"),
        0,
        "a relay without the lease marks nothing"
    );
    assert_eq!(
        world.db.mark_published(holder, &rows).await.expect("mark"),
        4
    );
    assert_eq!(world.pending().await, 0);
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_lease_holds_the_rows_behind_the_head() {
    a_lease_holds_the_rows_behind_the_head(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_lease_holds_the_rows_behind_the_head() {
    a_lease_holds_the_rows_behind_the_head(Backend::Sqlite).await;
}

/// A relay whose lease ran out marks nothing, even rows nobody has re-leased: the relay that
/// takes over publishes them again, in order, and only it marks them. The claim's predecessor
/// test relies on published rows being a prefix of each aggregate.
async fn a_relay_marks_nothing_once_its_lease_ran_out(backend: Backend) {
    let world = World::new(backend).await;
    for sequence in 1..=2 {
        world
            .insert_outbox_row("order", "A", sequence, sequence)
            .await;
    }
    let late = uuid::Uuid::new_v4();
    let leased = world.db.claim(late, 10, 50).await.expect("claim");
    assert_eq!(leased.len(), 2);
    tokio::time::sleep(Duration::from_millis(120)).await;
    // Another relay re-leases only the head (a bound of 1); A#2 still names the late relay.
    let taker = uuid::Uuid::new_v4();
    let retaken = world.db.claim(taker, 1, 60_000).await.expect("claim");
    assert_eq!(
        retaken.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [1],
        "the head, whose lease had run out"
    );

    let rows: Vec<_> = leased.iter().collect();
    let marked = world.db.mark_published(late, &rows).await.expect("mark");

    assert_eq!(marked, 0, "a lapsed lease marks nothing, not even A#2");
    assert_eq!(
        world
            .db
            .mark_published(taker, &rows[..1])
            .await
            .expect("mark"),
        1
    );
    let next = world.db.claim(taker, 10, 60_000).await.expect("claim");
    assert_eq!(
        next.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [2],
        "A#2 is the head once A#1 is published"
    );
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_relay_marks_nothing_once_its_lease_ran_out() {
    a_relay_marks_nothing_once_its_lease_ran_out(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_relay_marks_nothing_once_its_lease_ran_out() {
    a_relay_marks_nothing_once_its_lease_ran_out(Backend::Sqlite).await;
}

/// A group commit writes many rows of one aggregate with one commit time; a claim takes them
/// all, in sequence, whatever order they lie in on disk.
async fn a_claim_takes_every_row_of_one_commit(backend: Backend) {
    let world = World::new(backend).await;
    for sequence in (1..=200i64).rev() {
        world
            .insert_outbox_row("inventory", "HOT", sequence, 0)
            .await;
    }
    let claimed = world
        .db
        .claim(uuid::Uuid::new_v4(), 200, 60_000)
        .await
        .expect("claim");
    let sequences: Vec<i64> = claimed.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=200).collect::<Vec<_>>());
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_claim_takes_every_row_of_one_commit() {
    a_claim_takes_every_row_of_one_commit(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_claim_takes_every_row_of_one_commit() {
    a_claim_takes_every_row_of_one_commit(Backend::Sqlite).await;
}
