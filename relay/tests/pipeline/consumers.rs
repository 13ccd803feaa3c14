//! Kafka consumers: redeliveries absorbed by the inbox, poison messages dead-lettered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use relay::consumer::{Handler, HandlerError, KafkaConsumer};
use relay::db::Tx;
use relay::envelope::Envelope;
use relay::projector::OrderProjector;
use relay::publish::{KafkaPublisher, Publisher};
use relay::{ConsumerConfig, Relay, RelayConfig};
use tokio::sync::watch;

use crate::harness::*;

/// The order projector, counting how often each event's side effect actually ran.
struct Counting {
    inner: OrderProjector,
    applied: Arc<Mutex<HashMap<uuid::Uuid, u32>>>,
}

#[async_trait]
impl Handler for Counting {
    fn name(&self) -> &'static str {
        "counting-projector"
    }

    fn streams(&self) -> &'static [&'static str] {
        &["order"]
    }

    async fn apply(&self, tx: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        self.inner.apply(tx, e).await?;
        if let Ok(mut applied) = self.applied.lock() {
            *applied.entry(e.event_id).or_default() += 1;
        }
        Ok(())
    }
}

fn consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        attempts_max: 3,
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..ConsumerConfig::default()
    }
}

/// A relay crash between publish and mark-published delivers every order event twice; the
/// consumer applies each once (inbox) and commits its offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redelivered_events_are_applied_once() {
    let world = World::new(Backend::Postgres).await;
    let cluster = mock_cluster(3);
    let brokers = cluster.bootstrap_servers();
    let sku = world.stock("DUP-1", 10).await;
    let c = customer();
    let orders = [
        world.buy(c, &sku, "tok_visa").await,
        world.buy(c, &sku, "tok_visa").await,
    ];

    // Published by a relay that died before marking, then again after its lease ran out.
    let claimed = world
        .db
        .claim(uuid::Uuid::new_v4(), 1_000, 500)
        .await
        .expect("claim");
    let publisher =
        KafkaPublisher::new(&brokers, "commerce", Duration::from_secs(5)).expect("producer");
    assert!(publisher.publish(&claimed).await.iter().all(Result::is_ok));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let relay = Relay::new(
        world.db.clone(),
        Arc::new(publisher),
        RelayConfig::default(),
    );
    while relay.pass().await.expect("pass").claimed > 0 {}
    assert_eq!(world.pending().await, 0);

    let order_events: Vec<uuid::Uuid> = world
        .outbox()
        .await
        .into_iter()
        .filter(|e| e.stream() == "order")
        .map(|e| e.event_id)
        .collect();
    let applied = Arc::new(Mutex::new(HashMap::new()));
    let handler = Arc::new(Counting {
        inner: OrderProjector,
        applied: Arc::clone(&applied),
    });
    let consumer = KafkaConsumer::new(
        &brokers,
        "commerce",
        handler,
        world.db.clone(),
        consumer_config(),
    )
    .expect("consumer");
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(consumer.run(stop_rx));
    let inbox_full = || async {
        world
            .count("SELECT count(*) FROM inbox WHERE consumer = 'counting-projector'")
            .await
            == order_events.len() as i64
    };
    assert!(eventually(Duration::from_secs(60), inbox_full).await);
    // Time for the duplicates, which come after the originals, to be consumed too.
    let duplicates_done =
        || async { world.count("SELECT count(*) FROM inbox").await >= order_events.len() as i64 };
    assert!(eventually(Duration::from_secs(5), duplicates_done).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop_tx.send(true);
    task.await.expect("consumer task");

    let applied = applied.lock().expect("counts").clone();
    assert_eq!(applied.len(), order_events.len());
    assert!(
        applied.values().all(|n| *n == 1),
        "applied more than once: {applied:?}"
    );
    let topics = vec!["commerce.order".to_owned()];
    let on_kafka = read_topics(
        &brokers,
        &topics,
        2 * order_events.len(),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        on_kafka.len(),
        2 * order_events.len(),
        "each event was on Kafka twice"
    );
    for order in orders {
        let sql = format!("SELECT count(*) FROM order_views WHERE order_id = '{order}'");
        assert_eq!(world.count(&sql).await, 1);
    }
    drop(cluster);
    world.close().await;
}

/// A record the projector cannot apply goes to the dead-letter topic after the attempts, with
/// the error in its headers, and the events after it still flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_is_dead_lettered_and_later_ones_flow() {
    let world = World::new(Backend::Postgres).await;
    let cluster = mock_cluster(3);
    let brokers = cluster.bootstrap_servers();

    let poison_id = uuid::Uuid::new_v4().hyphenated().to_string();
    let producer: FutureProducer =
        relay::publish::producer_config(&brokers, Duration::from_secs(5))
            .create()
            .expect("producer");
    let headers = [
        ("ce_id", poison_id.as_str()),
        ("ce_type", "order.placed"),
        ("ce_source", "/commerce/order"),
        ("ce_subject", "not-an-order"),
        ("ce_time", "2026-01-01T00:00:00.000Z"),
        ("ce_specversion", "1.0"),
        ("ce_sequence", "1"),
        ("ce_schemaversion", "1"),
    ]
    .into_iter()
    .fold(OwnedHeaders::new(), |h, (key, value)| {
        h.insert(Header {
            key,
            value: Some(value),
        })
    });
    producer
        .send(
            FutureRecord::to("commerce.order")
                .key("not-an-order")
                .payload(r#"{"order_id": "not-a-uuid"}"#)
                .headers(headers),
            Duration::from_secs(5),
        )
        .await
        .expect("poison produced");

    let consumer = KafkaConsumer::new(
        &brokers,
        "commerce",
        Arc::new(OrderProjector),
        world.db.clone(),
        consumer_config(),
    )
    .expect("consumer");
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(consumer.run(stop_rx));

    // Later, real orders flow through the relay.
    let sku = world.stock("POISON-1", 10).await;
    let c = customer();
    let order = world.buy(c, &sku, "tok_visa").await;
    let publisher =
        KafkaPublisher::new(&brokers, "commerce", Duration::from_secs(5)).expect("producer");
    let relay = Relay::new(
        world.db.clone(),
        Arc::new(publisher),
        RelayConfig::default(),
    );
    while relay.pass().await.expect("pass").claimed > 0 {}
    let sql = format!("SELECT count(*) FROM order_views WHERE order_id = '{order}' AND status = 'fulfillment_requested'");
    assert!(
        eventually(Duration::from_secs(60), || async {
            world.count(&sql).await == 1
        })
        .await
    );
    let _ = stop_tx.send(true);
    task.await.expect("consumer task");

    let dlq = vec![relay::consumer::dlq_topic("commerce", "order-read-model")];
    let dead = read_topics(&brokers, &dlq, 1, Duration::from_secs(20)).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0];
    assert_eq!(d.header("ce_id"), poison_id);
    assert!(
        d.header("dlq_error").contains("order.placed payload"),
        "{:?}",
        d.headers
    );
    assert_eq!(d.header("dlq_attempts"), "3");
    assert_eq!(d.header("dlq_consumer"), "order-read-model");
    assert_eq!(d.header("dlq_original_topic"), "commerce.order");
    assert_eq!(d.payload, r#"{"order_id": "not-a-uuid"}"#);
    assert_eq!(world.count("SELECT count(*) FROM dead_letters").await, 1);
    drop(cluster);
    world.close().await;
}

/// The whole pipeline as `commerce serve` runs it with `KAFKA_BROKERS`: relay, then the read
/// model and notification consumer groups, on both stores.
async fn kafka_pipeline_projects_orders_and_notifications(backend: Backend) {
    let world = World::new(backend).await;
    let cluster = mock_cluster(3);
    let brokers = Some(cluster.bootstrap_servers());
    let settings = pipeline_settings(brokers, consumer_config(), Arc::new(relay::LogNotifier));
    let (stop_tx, stop_rx) = watch::channel(false);
    let pipeline = relay::Pipeline::start(world.db.clone(), settings, stop_rx).expect("pipeline");
    let sku = world.stock("KAFKA-E2E", 10).await;
    let c = customer();
    let confirmed = world.buy(c, &sku, "tok_visa").await;
    let failed = world.buy(c, &sku, "tok_decline").await;
    let views = format!(
        "SELECT count(*) FROM order_views WHERE (order_id = '{confirmed}' AND status = \
         'fulfillment_requested') OR (order_id = '{failed}' AND status = 'failed')"
    );
    assert!(
        eventually(Duration::from_secs(60), || async {
            world.count(&views).await == 2
        })
        .await
    );
    let notes =
        "SELECT count(*) FROM notifications WHERE kind IN ('order_confirmed', 'order_failed')";
    assert!(
        eventually(Duration::from_secs(30), || async {
            world.count(notes).await == 2
        })
        .await
    );
    let metrics = pipeline.metrics();
    assert!(
        eventually(Duration::from_secs(10), || async {
            metrics.snapshot().pending == 0
        })
        .await
    );
    assert!(metrics.snapshot().published_total > 0);
    let _ = stop_tx.send(true);
    pipeline.join().await;
    drop(cluster);
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_kafka_pipeline_projects_orders_and_notifications() {
    kafka_pipeline_projects_orders_and_notifications(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_kafka_pipeline_projects_orders_and_notifications() {
    kafka_pipeline_projects_orders_and_notifications(Backend::Sqlite).await;
}
