//! Database outage: a TCP proxy between the binary and Postgres drops every connection and
//! refuses new ones for several seconds under load. Requests fail fast with 503 and
//! `Retry-After`, `/readyz` turns false, and when the proxy forwards again the same process
//! recovers and its books balance, its actors' memory equal to the tables.

use super::books;
use super::load::{quantile, tally, Load};
use crate::helpers::{fresh_postgres_database, BinaryConfig, ServerProcess, TcpProxy};
use std::time::{Duration, Instant};

const SKU: &str = "OUTAGE";
const STOCK: u32 = 100_000;
const BUYERS: usize = 8;
/// The server's pool acquire timeout: how long a request waits for a connection at most.
const ACQUIRE_TIMEOUT_MS: u64 = 1_000;
const STATEMENT_TIMEOUT_MS: u64 = 2_000;
/// How long the database stays unreachable.
const OUTAGE: Duration = Duration::from_secs(6);
/// Generous bound of any answer during the outage: the acquire timeout plus scheduling slack
/// on a busy machine. A hanging connection would blow through it.
const FAIL_FAST_BOUND: Duration = Duration::from_millis(ACQUIRE_TIMEOUT_MS + 2_000);
/// How soon `/readyz` must notice the outage (its own timeout is one second).
const NOT_READY_BOUND: Duration = Duration::from_secs(5);
/// How soon after the database returns the process must be ready and selling again.
const RECOVERY_BOUND: Duration = Duration::from_secs(15);
/// How long sagas the outage interrupted may take to finish once the database is back:
/// stuck-after plus a few recovery intervals (both lowered below).
const SETTLE_BOUND: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_fails_fast_with_503_and_recovers_without_restart() {
    let proxy = TcpProxy::postgres().await;
    let database_url = fresh_postgres_database().await;
    let pool = books::connect(&database_url).await;
    let binary = BinaryConfig::new(Some(proxy.route(&database_url)))
        .env("DB_ACQUIRE_TIMEOUT_MS", ACQUIRE_TIMEOUT_MS)
        .env("DB_STATEMENT_TIMEOUT_MS", STATEMENT_TIMEOUT_MS)
        .env("SAGA_STUCK_AFTER_MS", 1_000)
        .env("SAGA_RECOVERY_INTERVAL_MS", 500);
    let server = binary.start().await;
    let app = &server.app;
    app.product_with_stock(SKU, 999, STOCK).await;
    println!(
        "db outage: binary on Postgres through a TCP proxy (port {}), acquire timeout {ACQUIRE_TIMEOUT_MS} ms, \
         statement timeout {STATEMENT_TIMEOUT_MS} ms; {BUYERS} buyers of {SKU}",
        proxy.port()
    );

    let load = Load::start(&app.address, SKU, BUYERS);
    load.wait_for_answers(0, 50, Duration::from_secs(30)).await;
    proxy.down();
    let down_at = Instant::now();
    println!(
        "proxy down after {} answers: every connection dropped, new ones closed",
        load.answered()
    );
    let not_ready_after = wait_for_readiness(&server, false, NOT_READY_BOUND).await;
    println!("  /readyz turned non-2xx {not_ready_after:?} after the outage began (bound {NOT_READY_BOUND:?})");
    tokio::time::sleep(OUTAGE.saturating_sub(down_at.elapsed())).await;
    proxy.up();
    let up_at = Instant::now();
    println!("proxy up after {:?}", up_at - down_at);
    let ready_after = wait_for_readiness(&server, true, RECOVERY_BOUND).await;
    println!(
        "  /readyz 2xx again {ready_after:?} after the database returned, same process (pid {})",
        server.pid()
    );
    let selling_after = wait_for_a_sale(&load, up_at, RECOVERY_BOUND).await;
    println!("  first order acknowledged {selling_after:?} after the database returned");
    let attempts = load.finish(50, Duration::from_secs(30)).await;

    // Requests sent while the database was away: every one answered, 503 with Retry-After,
    // within the bound.
    let during: Vec<_> = attempts
        .iter()
        .filter(|a| a.started >= down_at && a.started + a.latency <= up_at)
        .collect();
    let mut latencies: Vec<Duration> = during.iter().map(|a| a.latency).collect();
    println!(
        "  during the outage: {} requests, answers {:?}, latency p50 {:?} p99 {:?} max {:?}",
        during.len(),
        tally(during.iter().copied()),
        quantile(&mut latencies, 0.5),
        quantile(&mut latencies, 0.99),
        quantile(&mut latencies, 1.0),
    );
    assert!(!during.is_empty(), "the load kept asking during the outage");
    for attempt in &during {
        let reply = attempt.reply.as_ref().expect("answered, not hung up");
        assert_eq!(reply.status, 503, "{reply:?}");
        assert!(reply.retry_after.is_some(), "Retry-After on {reply:?}");
        assert!(
            attempt.latency <= FAIL_FAST_BOUND,
            "{attempt:?} took longer than {FAIL_FAST_BOUND:?}"
        );
    }
    println!("  checked: every request during the outage got 503 with Retry-After within {FAIL_FAST_BOUND:?}");

    let settled = books::sagas_settle(&pool, SETTLE_BOUND).await;
    println!("every saga completed or compensated {settled:?} after the load stopped (bound {SETTLE_BOUND:?})");
    books::assert_acknowledged_exist(&pool, app, SKU, &attempts).await;
    books::assert_books_balance(&pool, app, SKU, i64::from(STOCK)).await;
    books::assert_orders_match_api(&pool, app).await;
    books::assert_outbox_contiguous(&pool).await;
    assert_no_quarantine(&server).await;
}

/// Polls `/readyz` until it is (`true`) or is not (`false`) 2xx; panics past `bound`.
async fn wait_for_readiness(server: &ServerProcess, ready: bool, bound: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let app = &server.app;
        if let Some(reply) = app.try_send(app.client.get(app.url("/readyz"))).await {
            if (200..300).contains(&reply.status) == ready {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < bound,
            "/readyz not {} within {bound:?}",
            if ready { "ready" } else { "failing" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the load gets an order acknowledged that it sent after `since`.
async fn wait_for_a_sale(load: &Load, since: Instant, bound: Duration) -> Duration {
    let started = Instant::now();
    while !load.acknowledged_since(since) {
        assert!(
            started.elapsed() < bound,
            "no order acknowledged within {bound:?} of the database's return"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    since.elapsed()
}

/// No actor was quarantined: an outage is the store's failure, not a poison actor's.
async fn assert_no_quarantine(server: &ServerProcess) {
    let app = &server.app;
    let journal = app
        .send(
            app.client
                .get(app.url("/ops/supervision?limit=256"))
                .bearer_auth(crate::helpers::ADMIN_TOKEN),
        )
        .await;
    assert_eq!(journal.status, 200, "{journal:?}");
    let entries = journal.body["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut events = std::collections::BTreeMap::<String, usize>::new();
    for entry in &entries {
        *events
            .entry(entry["event"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    println!("  supervision journal: {events:?}");
    assert!(
        !events.contains_key("quarantined"),
        "no actor quarantined by an outage"
    );
    println!("  checked: no actor quarantined; the same process sells again, its memory equal to the tables");
}
