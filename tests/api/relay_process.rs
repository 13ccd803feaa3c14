//! The relay as its own deployment, and the read-model rebuild, as the binary runs them:
//! `commerce serve` with `RELAY_ENABLED=false` only writes the outbox; a separate
//! `commerce relay` process publishes it to a Kafka-protocol broker (librdkafka's mock cluster
//! over TCP) and runs the consumers; `commerce rebuild-read-models` restores a damaged read
//! model from the outbox history and exits.

use crate::helpers::{fresh_postgres_database, BinaryConfig};
use rdkafka::mocking::MockCluster;
use sqlx::PgPool;
use std::time::{Duration, Instant};

const ORDERS: usize = 5;

async fn count(pool: &PgPool, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(pool)
        .await
        .expect("count query");
    n
}

/// Polls `sql` until it counts `want` (bounded); answers whether it did.
async fn reaches(pool: &PgPool, sql: &str, want: i64, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if count(pool, sql).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Kills the child (SIGKILL) and reaps it when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_relay_process_publishes_what_serve_wrote_and_rebuild_restores_the_read_model() {
    let cluster = MockCluster::new(3).expect("mock cluster");
    let database_url = fresh_postgres_database().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&database_url)
        .await
        .expect("test pool");
    let binary = BinaryConfig::new(Some(database_url))
        .env("KAFKA_BROKERS", cluster.bootstrap_servers())
        .env("KAFKA_TOPIC_PREFIX", "separate")
        .env("RELAY_ENABLED", "false");
    let server = binary.start().await;
    server.app.product_with_stock("SEP-1", 500, 100).await;
    for i in 0..ORDERS {
        let reply = server
            .app
            .buy_now("SEP-1", 1, &format!("sep-{i}"), "tok_visa")
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
    }
    let rows = count(&pool, "SELECT COUNT(*) FROM outbox").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"
        )
        .await,
        rows,
        "serve with RELAY_ENABLED=false publishes nothing"
    );
    println!("serve wrote {rows} outbox rows and published none");

    let relay = Child(
        binary
            .command("relay")
            .spawn()
            .expect("commerce relay starts"),
    );
    assert!(
        reaches(
            &pool,
            "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL",
            0,
            Duration::from_secs(30)
        )
        .await,
        "the relay process published the outbox"
    );
    // Its consumers read the facts back from Kafka into the read model.
    assert!(
        reaches(
            &pool,
            "SELECT COUNT(*) FROM order_views WHERE status = 'fulfillment_requested'",
            ORDERS as i64,
            Duration::from_secs(60)
        )
        .await,
        "the relay process's consumers built the read model"
    );
    println!(
        "`commerce relay` published all {rows} rows and its consumers projected {ORDERS} orders"
    );
    drop(relay);

    sqlx::query("UPDATE order_views SET status = 'wrong'")
        .execute(&pool)
        .await
        .expect("damage the read model");
    let status = binary
        .command("rebuild-read-models")
        .status()
        .expect("commerce rebuild-read-models runs");
    assert!(status.success(), "rebuild-read-models exits 0: {status}");
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM orders o JOIN order_views v USING (order_id) \
             WHERE v.status = o.status"
        )
        .await,
        ORDERS as i64,
        "every order's view is restored from the outbox"
    );
    println!("`commerce rebuild-read-models` restored all {ORDERS} order views");
    server.kill9();
}
