//! Overload: an open-loop flood at about ten times the rate the server sustains. Excess requests
//! are shed at once with 503 `overloaded`, mailboxes stay within their bound, the process's
//! memory stays under a stated ceiling, and once the flood stops requests are fast again.

use super::books;
use super::load::{quantile, tally, Attempt, Load};
use crate::helpers::{fresh_postgres_database, rss_kib, BinaryConfig, TestApp, ADMIN_TOKEN};
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const SKU: &str = "SURGE";
const STOCK: u32 = 100_000_000;
/// Lowered limits so a 2-core machine reaches them deterministically.
const HTTP_CONCURRENCY_MAX: usize = 128;
const MAILBOX_CAPACITY: usize = 16;
const SAGA_STUCK_AFTER_MS: u64 = 1_000;
const SAGA_RECOVERY_INTERVAL_MS: u64 = 500;
/// How long the sagas the flood interrupted may take to settle once it stopped.
const SETTLE_BOUND: Duration = Duration::from_secs(20);
/// Closed-loop buyers whose throughput is taken as the sustainable rate.
const MEASURE_BUYERS: usize = 8;
const MEASURE_FOR: Duration = Duration::from_secs(2);
/// The flood's arrival rate as a multiple of the sustainable rate.
const OVERLOAD_FACTOR: f64 = 10.0;
const FLOOD_FOR: Duration = Duration::from_secs(4);
/// Requests are released in ticks of this length (timers are coarser than one arrival).
const TICK: Duration = Duration::from_millis(10);
/// The client's own bound on requests in flight, so the test cannot queue without bound
/// either; a tick that finds it exhausted skips its arrivals (counted and printed).
const CLIENT_IN_FLIGHT_MAX: usize = 2_048;
/// The stated memory ceiling of the server process (debug build) during the flood.
const RSS_CEILING_MIB: u64 = 512;
/// How fast a shed request must be answered (p99), generous for a busy 2-core machine.
const SHED_P99_BOUND: Duration = Duration::from_secs(1);
/// Sequential requests after the flood, each of which must be answered 201 within the bound.
const AFTER_REQUESTS: usize = 10;
/// Retries of requests shed inside a checkout, sent at once.
const RETRY_CONCURRENCY: usize = 16;
const AFTER_LATENCY_BOUND: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_sustainable_rate_is_shed_fast_with_bounded_memory() {
    let database_url = fresh_postgres_database().await;
    let pool = books::connect(&database_url).await;
    let binary = BinaryConfig::new(Some(database_url))
        .env("HTTP_CONCURRENCY_MAX", HTTP_CONCURRENCY_MAX)
        .env("MAILBOX_CAPACITY", MAILBOX_CAPACITY)
        // A checkout shed by a full mailbox after its order was placed leaves its saga to the
        // recovery loop, which compensates it once it is `SAGA_STUCK_AFTER_MS` old; lowered so
        // the test sees every saga settle within its bound.
        .env("SAGA_STUCK_AFTER_MS", SAGA_STUCK_AFTER_MS)
        .env("SAGA_RECOVERY_INTERVAL_MS", SAGA_RECOVERY_INTERVAL_MS)
        // Every shed request would log a warning; the flood measures shedding, not logging.
        .env("RUST_LOG", "error");
    let server = binary.start().await;
    let app = Arc::new(TestApp::attach(server.app.address.clone()));
    app.product_with_stock(SKU, 999, STOCK).await;
    let rss_idle_kib = rss_kib(server.pid()).unwrap_or(0);
    println!(
        "overload: binary on Postgres with HTTP_CONCURRENCY_MAX={HTTP_CONCURRENCY_MAX}, \
         MAILBOX_CAPACITY={MAILBOX_CAPACITY}; RSS {} MiB idle",
        rss_idle_kib / 1024
    );

    let before = sequential_buys(&app, "before").await;
    let load = Load::start(&app.address, SKU, MEASURE_BUYERS);
    tokio::time::sleep(MEASURE_FOR).await;
    let measured = load.stop().await;
    let sold = measured
        .iter()
        .filter(|a| a.acknowledged_order().is_some())
        .count();
    let sustainable = (sold as f64 / MEASURE_FOR.as_secs_f64()).max(1.0);
    let rate = sustainable * OVERLOAD_FACTOR;
    println!(
        "sustainable: {sustainable:.0} orders/s ({MEASURE_BUYERS} closed-loop buyers for {MEASURE_FOR:?}); \
         sequential latency before {:?} median",
        median(before)
    );

    let sampler = Sampler::start(app.clone(), server.pid());
    let flood = flood(app.clone(), rate, FLOOD_FOR).await;
    let samples = sampler.stop().await;
    let offered = flood.attempts.len() as f64 / FLOOD_FOR.as_secs_f64();
    println!(
        "flood: {rate:.0}/s asked, {offered:.0}/s sent for {FLOOD_FOR:?} ({} requests, {} skipped by the client's own bound); answers {:?}",
        flood.attempts.len(),
        flood.skipped,
        tally(&flood.attempts)
    );
    let mut shed: Vec<Duration> = flood
        .attempts
        .iter()
        .filter(|a| a.reply.as_ref().is_some_and(|r| r.code() == "overloaded"))
        .map(|a| a.latency)
        .collect();
    let (shed_p50, shed_p99, shed_max) = (
        quantile(&mut shed, 0.5),
        quantile(&mut shed, 0.99),
        quantile(&mut shed, 1.0),
    );
    println!(
        "  503 overloaded: {} answers, latency p50 {shed_p50:?} p99 {shed_p99:?} max {shed_max:?}",
        shed.len()
    );
    println!(
        "  RSS peak {} MiB (ceiling {RSS_CEILING_MIB} MiB), deepest mailbox {} (capacity {MAILBOX_CAPACITY}), {} samples",
        samples.rss_peak_kib / 1024,
        samples.mailbox_depth_max,
        samples.count
    );
    assert!(!shed.is_empty(), "the flood was shed, not absorbed");
    for attempt in &flood.attempts {
        if let Some(reply) = &attempt.reply {
            assert!(
                reply.status == 201 || (reply.status == 503 && reply.retry_after.is_some()),
                "only sales and retryable 503s: {reply:?}"
            );
        }
    }
    let unanswered = flood.attempts.iter().filter(|a| a.reply.is_none()).count();
    assert!(
        unanswered * 100 <= flood.attempts.len(),
        "{unanswered} of {} requests got no answer",
        flood.attempts.len()
    );
    assert!(shed_p99 <= SHED_P99_BOUND, "503s answered fast");
    assert!(samples.count > 0, "the sampler saw the flood");
    assert!(
        samples.rss_peak_kib <= RSS_CEILING_MIB * 1024,
        "memory under the ceiling"
    );
    assert!(
        samples.mailbox_depth_max <= MAILBOX_CAPACITY as u64,
        "mailboxes within their bound"
    );
    println!("  checked: only 201 or 503 with Retry-After, under 1% unanswered, shed p99 <= {SHED_P99_BOUND:?}, RSS and mailboxes within bounds");

    let after = sequential_buys(&app, "after").await;
    assert!(
        after.iter().all(|l| *l <= AFTER_LATENCY_BOUND),
        "latency back to normal: {after:?}"
    );
    println!(
        "after the flood: {AFTER_REQUESTS} sequential orders all 201, median {:?}, max {:?} (bound {AFTER_LATENCY_BOUND:?})",
        median(after.clone()),
        after.iter().max().copied().unwrap_or_default()
    );

    let settled = books::sagas_settle(&pool, SETTLE_BOUND).await;
    println!(
        "every saga completed or compensated {settled:?} after the flood (bound {SETTLE_BOUND:?})"
    );
    let mut attempts = measured;
    attempts.extend(flood.attempts);
    books::assert_acknowledged_exist(&pool, &app, SKU, &attempts).await;
    let sale = books::assert_books_balance(&pool, &app, SKU, i64::from(STOCK)).await;
    let finished_later = retries_after_shedding(&pool, &app, &attempts).await;
    // The sequential orders before and after the flood are one unit each and all 201.
    let acknowledged = attempts
        .iter()
        .filter(|a| a.acknowledged_order().is_some())
        .map(|a| i64::from(a.quantity))
        .sum::<i64>()
        + 2 * AFTER_REQUESTS as i64;
    assert_eq!(
        sale.sold,
        acknowledged + finished_later,
        "units sold are the acknowledged ones plus the ones a retry with the same key confirms"
    );
    println!(
        "  checked: units sold ({}) = acknowledged ({acknowledged}) + finished after a mid-checkout 503 ({finished_later})",
        sale.sold
    );
    server.kill9();
}

/// Requests the edge shed (concurrency limit) never reached a handler: none claimed its key.
/// Requests shed inside a checkout (a full mailbox after the order was placed) may have an
/// order that recovery then finished or failed: a retry with the same key answers with that
/// order, 201 exactly when the table holds it sold. Returns the units such retries confirmed.
async fn retries_after_shedding(pool: &sqlx::PgPool, app: &TestApp, attempts: &[Attempt]) -> i64 {
    let shed: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.reply.as_ref().is_some_and(|r| r.status == 503))
        .collect();
    let (at_edge, inside): (Vec<&Attempt>, Vec<&Attempt>) = shed.into_iter().partition(|a| {
        a.reply.as_ref().is_some_and(|r| {
            r.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("in flight"))
        })
    });
    let edge_keys: Vec<String> = at_edge.iter().map(|a| a.key.clone()).collect();
    let (claimed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM idempotency_keys WHERE key = ANY($1)")
            .bind(&edge_keys)
            .fetch_one(pool)
            .await
            .expect("claimed keys");
    assert_eq!(claimed, 0, "no request shed at the edge claimed its key");
    let retries = futures::stream::iter(inside.iter().map(|a| async move {
        let order: Option<(String,)> = sqlx::query_as(
            "SELECT o.status FROM idempotency_keys k JOIN orders o USING (order_id) WHERE k.key = $1",
        )
        .bind(&a.key)
        .fetch_optional(pool)
        .await
        .expect("order of the key");
        // Shed before its key was claimed (e.g. looking the product up): no order, and a retry
        // would be a new purchase.
        let (status,) = order?;
        let sold = status == "fulfillment_requested";
        let retry = app
            .try_send(app.buy_now_request(SKU, a.quantity, &a.key, "tok_visa"))
            .await
            .expect("retry answered");
        assert_eq!(retry.status == 201, sold, "the retry of {} answers with its order: {retry:?}", a.key);
        Some(if sold { i64::from(a.quantity) } else { 0 })
    }))
    .buffer_unordered(RETRY_CONCURRENCY)
    .collect::<Vec<Option<i64>>>()
    .await;
    let unclaimed = retries.iter().filter(|r| r.is_none()).count();
    let finished: i64 = retries.iter().flatten().sum();
    let finished_orders = retries.iter().flatten().filter(|u| **u > 0).count();
    println!(
        "  {} shed at the edge (no key claimed); {} shed inside, {unclaimed} of them before claiming \
         their key (no order), {finished_orders} finished by recovery (their retry answers 201), \
         the rest failed and released their stock",
        at_edge.len(),
        inside.len()
    );
    finished
}

/// `AFTER_REQUESTS` buys one after another; each must be a 201. Returns their latencies.
async fn sequential_buys(app: &TestApp, label: &str) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for i in 0..AFTER_REQUESTS {
        let started = Instant::now();
        let reply = app
            .buy_now(SKU, 1, &format!("{label}-{i}"), "tok_visa")
            .await;
        latencies.push(started.elapsed());
        assert_eq!(reply.status, 201, "{reply:?}");
    }
    latencies
}

fn median(mut latencies: Vec<Duration>) -> Duration {
    quantile(&mut latencies, 0.5)
}

struct Flood {
    attempts: Vec<Attempt>,
    skipped: u64,
}

/// Open loop: arrivals at `rate` per second for `duration`, whatever the answers take.
async fn flood(app: Arc<TestApp>, rate: f64, duration: Duration) -> Flood {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let in_flight = Arc::new(Semaphore::new(CLIENT_IN_FLIGHT_MAX));
    let per_tick = rate * TICK.as_secs_f64();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (started, mut due, mut sent, mut skipped) = (Instant::now(), 0.0, 0u64, 0u64);
    while started.elapsed() < duration {
        ticker.tick().await;
        due += per_tick;
        while due >= 1.0 {
            due -= 1.0;
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                skipped += 1;
                continue;
            };
            let (app, attempts) = (app.clone(), attempts.clone());
            let key = format!("flood-{sent}");
            sent += 1;
            tokio::spawn(async move {
                let started = Instant::now();
                let reply = app
                    .try_send(app.buy_now_request(SKU, 1, &key, "tok_visa"))
                    .await;
                let latency = started.elapsed();
                attempts.lock().expect("lock").push(Attempt {
                    key,
                    quantity: 1,
                    started,
                    latency,
                    reply,
                });
                drop(permit);
            });
        }
    }
    // Every request sent gets its answer (or its client timeout) before the flood is judged.
    let all = u32::try_from(CLIENT_IN_FLIGHT_MAX).expect("bound fits u32");
    let _drained = in_flight.acquire_many(all).await.expect("semaphore open");
    let attempts = std::mem::take(&mut *attempts.lock().expect("lock"));
    Flood { attempts, skipped }
}

/// What the sampler saw of the server while the flood ran.
struct Samples {
    count: u64,
    rss_peak_kib: u64,
    mailbox_depth_max: u64,
}

/// Reads the server's RSS from /proc and its deepest mailbox from `/ops/shards` (outside the
/// concurrency limit) every `SAMPLE_INTERVAL`.
struct Sampler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Samples>,
}

const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

impl Sampler {
    fn start(app: Arc<TestApp>, pid: u32) -> Sampler {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut samples = Samples {
                count: 0,
                rss_peak_kib: 0,
                mailbox_depth_max: 0,
            };
            while !*stopped.borrow() {
                samples.rss_peak_kib = samples.rss_peak_kib.max(rss_kib(pid).unwrap_or(0));
                let request = app
                    .client
                    .get(app.url("/ops/shards?top=1"))
                    .bearer_auth(ADMIN_TOKEN);
                if let Some(reply) = app.try_send(request).await {
                    let depth = reply.body["hottest_by_mailbox_depth"][0]["mailbox_depth"]
                        .as_u64()
                        .unwrap_or(0);
                    samples.mailbox_depth_max = samples.mailbox_depth_max.max(depth);
                }
                samples.count += 1;
                let _ = tokio::time::timeout(SAMPLE_INTERVAL, stopped.changed()).await;
            }
            samples
        });
        Sampler { stop, task }
    }

    async fn stop(self) -> Samples {
        let _ = self.stop.send(true);
        self.task.await.expect("sampler")
    }
}
