//! Crash: SIGKILL the real binary at random moments of a flash sale, several times, restarting
//! it on the same database each time; afterwards nothing acknowledged is lost, nothing is
//! oversold, every saga has settled, and the outbox has no per-aggregate gaps.

use super::books;
use super::load::Load;
use crate::helpers::{fresh_postgres_database, BinaryConfig};
use std::time::{Duration, Instant};

const SKU: &str = "CRASH";
/// Enough for several kills' worth of sales; the load may still sell it out, which is when
/// "nothing oversold" bites.
const STOCK: u32 = 450;
const BUYERS: usize = 12;
const KILLS: usize = 4;
/// Answers each incarnation gives before it may be killed, so every kill lands mid-sale.
const ANSWERS_BEFORE_KILL: u64 = 20;
/// The latest moment of a kill after that, drawn at random.
const KILL_JITTER_MS_MAX: u64 = 400;
/// How long the in-flight sagas may take to complete or compensate after the last restart.
const SETTLE_BOUND: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_four_times_mid_sale_loses_nothing_and_every_saga_settles() {
    let database_url = fresh_postgres_database().await;
    let pool = books::connect(&database_url).await;
    let binary = BinaryConfig::new(Some(database_url));
    let mut server = binary.start().await;
    server.app.product_with_stock(SKU, 999, STOCK).await;
    println!("crash: {BUYERS} buyers of {SKU} (stock {STOCK}, 1-2 units each) against the binary on Postgres");

    let load = Load::start(&server.app.address, SKU, BUYERS);
    let mut last_restart = Instant::now();
    for kill in 1..=KILLS {
        load.wait_for_answers(
            load.answered(),
            ANSWERS_BEFORE_KILL,
            Duration::from_secs(60),
        )
        .await;
        let jitter = Duration::from_millis(rand::random::<u64>() % KILL_JITTER_MS_MAX);
        tokio::time::sleep(jitter).await;
        let pid = server.pid();
        server.kill9();
        books::dead_server_backends_gone(&pool, Duration::from_secs(10)).await;
        let killed_at_ms = books::now_ms(&pool).await;
        let in_flight = books::sagas_in_flight(&pool, Some(killed_at_ms)).await;
        println!(
            "kill {kill}: SIGKILL pid {pid} {jitter:?} after its {ANSWERS_BEFORE_KILL}th answer; \
             {in_flight} sagas in flight in the table, {} answers so far",
            load.answered()
        );
        let restarting = Instant::now();
        server = binary.start().await;
        last_restart = Instant::now();
        // Start-up recovery runs before the listener is bound: once healthy, nothing the killed
        // process left in flight may remain.
        let left = books::sagas_in_flight(&pool, Some(killed_at_ms)).await;
        assert_eq!(
            left, 0,
            "start-up recovery settled the killed process's sagas"
        );
        println!(
            "  restarted on the same database in {:?}; sagas of the killed process still in flight: {left}",
            restarting.elapsed()
        );
    }
    let attempts = load
        .finish(ANSWERS_BEFORE_KILL, Duration::from_secs(60))
        .await;

    let settled = books::sagas_settle(&pool, SETTLE_BOUND).await;
    println!(
        "every saga completed or compensated {:?} after the load stopped ({:?} after the last restart; bound {SETTLE_BOUND:?})",
        settled,
        last_restart.elapsed()
    );
    let unexpected: Vec<_> = attempts
        .iter()
        .filter_map(|a| a.reply.as_ref())
        .filter(|r| !matches!(r.status, 201 | 409 | 402 | 503))
        .collect();
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:?}");
    let acknowledged = books::assert_acknowledged_exist(&pool, &server.app, SKU, &attempts).await;
    assert!(acknowledged > 0, "the sale sold something");
    let sale = books::assert_books_balance(&pool, &server.app, SKU, i64::from(STOCK)).await;
    assert!(
        sale.orders_sold >= acknowledged as i64,
        "sold orders include every acknowledged one"
    );
    books::assert_orders_match_api(&pool, &server.app).await;
    books::assert_outbox_contiguous(&pool).await;
    books::assert_one_shipment_per_sold_order(&pool).await;
    server.kill9();
}
