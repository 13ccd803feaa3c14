//! A real store (fresh SQLite file or fresh Postgres database per test), a real `Commerce` on
//! it producing real outbox rows, and a real Kafka-protocol broker (librdkafka's mock cluster,
//! in-process, over TCP).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actors::sandbox::{SandboxPayments, SandboxShipping};
use actors::{Commerce, CommerceConfig, Ports};
use domain::{
    Currency, CustomerId, Money, OrderId, ProductName, Quantity, ShippingAddress, SkuCode,
};
use persistence::{PgStore, PoolConfig, SqliteStore};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use relay::envelope::Envelope;
use relay::Db;
use runtime::{ActorSystem, RuntimeConfig};
use sqlx::Connection;

const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

enum Place {
    Dir(PathBuf),
    Database { admin_url: String, name: String },
}

/// One store with the runtime on top.
pub struct World {
    pub db: Db,
    pub commerce: Commerce,
    system: Option<ActorSystem>,
    place: Option<Place>,
}

impl World {
    pub async fn new(backend: Backend) -> World {
        let (store, db, place): (Arc<dyn actors::ports::Store>, Db, Place) = match backend {
            Backend::Sqlite => {
                let dir =
                    std::env::temp_dir().join(format!("relay-{}", uuid::Uuid::new_v4().simple()));
                let store = SqliteStore::open(&dir, &PoolConfig::default())
                    .await
                    .expect("open sqlite store");
                let db = Db::Sqlite(store.pool().clone());
                (Arc::new(store), db, Place::Dir(dir))
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL")
                    .unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned());
                let name = format!("relay_{}", uuid::Uuid::new_v4().simple());
                admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
                let store =
                    PgStore::connect(&database_url(&admin_url, &name), &PoolConfig::default())
                        .await
                        .expect("connect to the test database");
                let db = Db::Postgres(store.pool().clone());
                (Arc::new(store), db, Place::Database { admin_url, name })
            }
        };
        let runtime = RuntimeConfig {
            arbiters: 2,
            shards: 4,
            ..RuntimeConfig::default()
        };
        let system = ActorSystem::start(runtime.arbiters).expect("actor system");
        let ports = Ports {
            store,
            payments: Arc::new(SandboxPayments::new(Duration::from_secs(5))),
            shipping: Arc::new(SandboxShipping::new()),
            clock: Arc::new(actors::ports::SystemClock),
        };
        let config = CommerceConfig {
            payment_timeout: Duration::from_millis(300),
            ..CommerceConfig::default()
        };
        let commerce = Commerce::new(&system, &runtime, config, ports);
        World {
            db,
            commerce,
            system: Some(system),
            place: Some(place),
        }
    }

    /// Stops the actors and removes the store.
    pub async fn close(mut self) {
        let _ = self.commerce.shutdown(Duration::from_secs(5)).await;
        if let Some(system) = self.system.take() {
            let _ = tokio::task::spawn_blocking(move || system.shutdown()).await;
        }
        match &self.db {
            Db::Postgres(p) => p.close().await,
            Db::Sqlite(p) => p.close().await,
        }
        match self.place.take() {
            Some(Place::Dir(dir)) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Some(Place::Database { admin_url, name }) => {
                admin(
                    &admin_url,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )
                .await;
            }
            None => {}
        }
    }

    /// A product with stock.
    pub async fn stock(&self, sku: &str, units: u32) -> SkuCode {
        let sku = SkuCode::parse(sku).expect("sku");
        let usd = Currency::parse("USD").expect("usd");
        self.commerce
            .define_product(
                sku.clone(),
                ProductName::parse("Thing").expect("name"),
                Money::new(1_250, usd).expect("money"),
                true,
            )
            .await
            .expect("define product");
        self.commerce
            .restock(sku.clone(), Quantity::new(units).expect("quantity"))
            .await
            .expect("restock");
        sku
    }

    /// A buy-now checkout; declined or not, the order exists afterwards.
    pub async fn buy(&self, customer: CustomerId, sku: &SkuCode, token: &str) -> OrderId {
        let order_id = OrderId::from_u128(uuid::Uuid::new_v4().as_u128());
        let _ = self
            .commerce
            .buy_now(
                order_id,
                Some(customer),
                vec![(sku.clone(), Quantity::new(1).expect("quantity"))],
                token.to_owned(),
                address(),
            )
            .await;
        order_id
    }

    /// Every outbox row, per aggregate type.
    pub async fn outbox(&self) -> Vec<Envelope> {
        let mut all = Vec::new();
        for kind in ["product", "inventory", "cart", "order"] {
            let mut after = None;
            loop {
                let page = self
                    .db
                    .history(kind, after.clone(), 1_000)
                    .await
                    .expect("history");
                let Some(last) = page.last() else { break };
                after = Some((last.aggregate_id.clone(), last.sequence));
                all.extend(page);
            }
        }
        all
    }

    pub async fn pending(&self) -> u64 {
        self.db.backlog().await.expect("backlog").pending
    }

    /// Runs one statement of the test's own (no input from outside the test).
    /// Writes one outbox row (`test.event`, empty payload) of aggregate `kind`/`id` at
    /// `sequence`, committed `created_ms` milliseconds after the epoch.
    pub async fn insert_outbox_row(&self, kind: &str, id: &str, sequence: i64, created_ms: i64) {
        let created = match &self.db {
            Db::Postgres(_) => {
                format!("TIMESTAMPTZ 'epoch' + {created_ms} * INTERVAL '1 millisecond'")
            }
            Db::Sqlite(_) => created_ms.to_string(),
        };
        self.execute(&format!(
            "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, sequence, event_type, \
             schema_version, payload, created_at) VALUES ('{}', '{kind}', '{id}', {sequence}, \
             'test.event', 1, '{{}}', {created})",
            uuid::Uuid::new_v4()
        ))
        .await;
    }

    pub async fn execute(&self, sql: &str) {
        match &self.db {
            Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
        .expect("statement");
    }

    pub async fn count(&self, sql: &str) -> i64 {
        match &self.db {
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        }
        .expect("count query")
    }
}

/// A pipeline that polls the outbox every 50 ms and runs the consumers.
pub fn pipeline_settings(
    kafka_brokers: Option<String>,
    consumer: relay::ConsumerConfig,
    notifier: Arc<dyn relay::Notifier>,
) -> relay::PipelineSettings {
    relay::PipelineSettings {
        kafka_brokers,
        relay: relay::RelayConfig {
            idle_poll: Duration::from_millis(50),
            ..relay::RelayConfig::default()
        },
        consumer,
        notifier,
        run_consumers: true,
    }
}

pub fn address() -> ShippingAddress {
    ShippingAddress::parse(
        "Ada Lovelace",
        "12 St James's Square",
        None,
        "London",
        "SW1Y 4JH",
        "GB",
    )
    .expect("valid address")
}

pub fn customer() -> CustomerId {
    CustomerId::from_u128(uuid::Uuid::new_v4().as_u128())
}

async fn admin(admin_url: &str, statement: &str) {
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::raw_sql(statement)
        .execute(&mut conn)
        .await
        .expect("admin statement");
    let _ = conn.close().await;
}

fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let (authority, _) = base.rsplit_once('/').expect("a URL with a database path");
    match query {
        Some(q) => format!("{authority}/{name}?{q}"),
        None => format!("{authority}/{name}"),
    }
}

/// One consumed record.
#[derive(Clone, Debug)]
pub struct Received {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub payload: String,
    pub headers: BTreeMap<String, String>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// Reads `topics` from the beginning until at least `count` records arrived and then nothing
/// more for a moment, or `timeout` passes.
pub async fn read_topics(
    brokers: &str,
    topics: &[String],
    count: usize,
    timeout: Duration,
) -> Vec<Received> {
    read_topics_until(brokers, topics, timeout, |r| r.len() >= count).await
}

/// Reads `topics` from the beginning until `done` holds and then nothing more arrives for a
/// moment, or `timeout` passes.
pub async fn read_topics_until(
    brokers: &str,
    topics: &[String],
    timeout: Duration,
    done: impl Fn(&[Received]) -> bool,
) -> Vec<Received> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("test-reader-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .expect("test consumer");
    let deadline = Instant::now() + timeout;
    // Every partition, from the beginning, assigned directly: joining a consumer group through
    // the mock cluster's coordinator now and then got no assignment within the timeout when
    // two clusters ran side by side in this process (a reader that saw none of 27 rows the
    // relay had published and had acknowledged).
    let mut partitions = TopicPartitionList::new();
    for topic in topics {
        for p in topic_partitions(&consumer, topic, deadline).await {
            partitions
                .add_partition_offset(topic, p, Offset::Beginning)
                .expect("partition offset");
        }
    }
    consumer.assign(&partitions).expect("assign");
    let mut out = Vec::new();
    loop {
        let finished = done(&out);
        let quiet = if finished {
            Duration::from_millis(1_500)
        } else {
            Duration::from_millis(500)
        };
        match tokio::time::timeout(quiet, consumer.recv()).await {
            Ok(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                let v = h.value.map(|v| String::from_utf8_lossy(v).into_owned());
                                (h.key.to_owned(), v.unwrap_or_default())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Received {
                    topic: m.topic().to_owned(),
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_default(),
                    payload: m
                        .payload()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .unwrap_or_default(),
                    headers,
                });
            }
            Ok(Err(e)) => eprintln!("test reader: {e}"),
            Err(_) if finished => break,
            Err(_) => {}
        }
        if Instant::now() > deadline {
            break;
        }
    }
    out
}

/// The partitions of `topic`, once the cluster knows it (a dead-letter topic may appear only
/// after the reader started); none if it does not by `deadline`.
async fn topic_partitions(consumer: &StreamConsumer, topic: &str, deadline: Instant) -> Vec<i32> {
    loop {
        let found = tokio::task::block_in_place(|| {
            consumer
                .fetch_metadata(Some(topic), Duration::from_secs(2))
                .ok()
                .and_then(|m| {
                    m.topics()
                        .iter()
                        .find(|t| t.name() == topic && t.error().is_none())
                        .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
                })
                .filter(|ids| !ids.is_empty())
        });
        if let Some(ids) = found {
            return ids;
        }
        if Instant::now() > deadline {
            return Vec::new();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `check` until it holds or `timeout` passes; answers whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The topics these envelopes go to.
pub fn topics_of(rows: &[Envelope], prefix: &str) -> Vec<String> {
    let mut topics: Vec<String> = rows.iter().map(|r| r.topic(prefix)).collect();
    topics.sort();
    topics.dedup();
    topics
}

/// Per (topic, key), the sequences in offset order, first deliveries only (a redelivery after a
/// failure repeats what was already there).
pub fn sequences_by_key(received: &[Received]) -> BTreeMap<(String, String), Vec<i64>> {
    let mut sorted: Vec<&Received> = received.iter().collect();
    sorted.sort_by_key(|r| (r.topic.clone(), r.partition, r.offset));
    let mut seen = std::collections::HashSet::new();
    let mut map: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for r in sorted {
        if !seen.insert(r.header("ce_id").to_owned()) {
            continue;
        }
        let seq: i64 = r.header("ce_sequence").parse().expect("ce_sequence");
        map.entry((r.topic.clone(), r.key.clone()))
            .or_default()
            .push(seq);
    }
    map
}

/// Asserts every key's sequences are strictly increasing (first deliveries in offset order).
pub fn assert_in_order(received: &[Received]) {
    for ((topic, key), seqs) in sequences_by_key(received) {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{topic}/{key} out of order: {seqs:?}"
        );
    }
}

/// A fresh mock cluster's bootstrap address with `brokers` brokers.
pub fn mock_cluster(
    brokers: i32,
) -> rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    rdkafka::mocking::MockCluster::new(brokers).expect("mock cluster")
}
