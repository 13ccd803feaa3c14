//! The store ceiling: how many buy-now orders per second this machine's Postgres can store when
//! it does nothing else. No HTTP, no deciding, no relay: writer connections append the rows a
//! confirmed buy-now leaves in the store, in their final state, `batch` orders per transaction,
//! as fast as Postgres takes them. Any engine that makes the same promises must write at least
//! these rows, so no engine serves more orders per second on the same machine than this.
//!
//! What one order writes here, the least of what the baseline and the actor runtime write (both
//! write more: the baseline updates the hot row and the key per order, the actor runtime moves
//! its order and saga rows step by step):
//! - its idempotency key, already answered (status and a response body of a real answer's size);
//! - the order in `fulfillment_requested`, its one line, its authorized payment, its committed
//!   reservation and its completed saga;
//! - the seven outbox rows a buy-now emits (five order events, two inventory events), with
//!   payloads of the real events' size.
//!
//! and each batch moves the hot SKU's counters once. The schema is the server's own: the caller
//! migrates the fresh database with `commerce migrate` first.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::dbcost::{self, DbCost};
use crate::limits::{
    HISTOGRAM_SIGFIGS, LATENCY_US_MAX, STORE_CEILING_BATCH_MAX, STORE_CEILING_WRITERS_MAX,
};
use crate::stats::Percentiles;

/// The hot SKU every order buys, and its price in minor units.
const SKU: &str = "CEILING-1";
const PRICE_MINOR: i64 = 19_999;
/// Events one buy-now emits: placed, reserved, payment authorized, confirmed, fulfillment
/// requested on the order; reserved and committed on the SKU.
const EVENTS_PER_ORDER: usize = 7;
/// Order events among them; the rest are the SKU's.
const ORDER_EVENTS: usize = 5;
/// The SKU's events among them, each taking the SKU's next outbox sequence.
const SKU_EVENTS: usize = EVENTS_PER_ORDER - ORDER_EVENTS;
/// Size of a real buy-now answer (the stored body of its idempotency key).
const ANSWER_BYTES: usize = 420;

/// How the store ceiling runs.
#[derive(Clone, Debug, Serialize)]
pub struct StoreCeilingPlan {
    /// Orders per transaction.
    pub batch: usize,
    /// Concurrent writer connections.
    pub writers: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
}

impl StoreCeilingPlan {
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=STORE_CEILING_BATCH_MAX).contains(&self.batch),
            "store ceiling batch must be 1 to {STORE_CEILING_BATCH_MAX}, not {}",
            self.batch
        );
        anyhow::ensure!(
            (1..=STORE_CEILING_WRITERS_MAX).contains(&self.writers),
            "store ceiling writers must be 1 to {STORE_CEILING_WRITERS_MAX}, not {}",
            self.writers
        );
        anyhow::ensure!(
            self.duration_s > 0.0 && self.duration_s.is_finite(),
            "store ceiling duration must be positive"
        );
        anyhow::ensure!(
            self.warmup_s >= 0.0 && self.warmup_s.is_finite(),
            "store ceiling warm-up must not be negative"
        );
        Ok(())
    }
}

/// What the store ceiling measured.
#[derive(Clone, Debug, Serialize)]
pub struct StoreCeilingReport {
    pub plan: StoreCeilingPlan,
    /// Orders committed in the measured window.
    pub orders: u64,
    pub seconds: f64,
    pub orders_per_s: f64,
    /// Latency of one batch's transaction, in milliseconds.
    pub batch_latency: Percentiles,
    /// Batches that failed (none is expected; any is reported, and fails the bench).
    pub failed_batches: u64,
    pub db_cost: Option<DbCost>,
}

/// Counters the writers share.
struct Shared {
    /// Orders committed since the window opened (writes of the warm-up are not counted).
    orders: AtomicU64,
    failed: AtomicU64,
    /// The next free outbox sequence of the hot SKU: each batch takes two per order.
    sku_sequence: AtomicI64,
}

/// Runs the store ceiling against the migrated, otherwise empty database at `url`.
pub async fn measure(url: &str, plan: &StoreCeilingPlan) -> anyhow::Result<StoreCeilingReport> {
    plan.check()?;
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(plan.writers + 1).unwrap_or(u32::MAX))
        .connect(url)
        .await?;
    seed(&pool).await?;
    let shared = Arc::new(Shared {
        orders: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        sku_sequence: AtomicI64::new(1),
    });
    let warm_until = Instant::now() + Duration::from_secs_f64(plan.warmup_s);
    let window = Duration::from_secs_f64(plan.duration_s);
    let (window_tx, window_rx) = tokio::sync::watch::channel(None::<Instant>);
    let mut writers = Vec::with_capacity(plan.writers);
    for _ in 0..plan.writers {
        let (pool, shared, mut window_rx) = (pool.clone(), shared.clone(), window_rx.clone());
        let batch = plan.batch;
        writers.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new_with_max(LATENCY_US_MAX, HISTOGRAM_SIGFIGS)?;
            loop {
                let end = *window_rx.borrow_and_update();
                if end.is_some_and(|end| Instant::now() >= end) {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let started = Instant::now();
                let written = write_batch(&pool, &shared, batch).await;
                // Only batches that start inside the window count, so the warm-up's writes and
                // a batch that straddles the window's start do not inflate the figure.
                if end.is_none() {
                    continue;
                }
                match written {
                    Ok(()) => {
                        shared.orders.fetch_add(batch as u64, Ordering::Relaxed);
                        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                        latencies.record(us.clamp(1, LATENCY_US_MAX))?;
                    }
                    Err(e) => {
                        if shared.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("store ceiling: a batch failed: {e}");
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep_until(warm_until.into()).await;
    let before = dbcost::read(url).await;
    let opened = Instant::now();
    let _ = window_tx.send(Some(opened + window));
    let mut latencies = Histogram::<u64>::new_with_max(LATENCY_US_MAX, HISTOGRAM_SIGFIGS)?;
    for writer in writers {
        latencies.add(writer.await??)?;
    }
    let seconds = opened.elapsed().as_secs_f64();
    let after = dbcost::read(url).await;
    pool.close().await;
    let orders = shared.orders.load(Ordering::Relaxed);
    let db_cost = match (before, after) {
        (Some(b), Some(a)) => dbcost::between(&b, &a, orders, orders),
        _ => None,
    };
    Ok(StoreCeilingReport {
        plan: plan.clone(),
        orders,
        seconds,
        orders_per_s: crate::stats::per_second(orders, seconds),
        batch_latency: Percentiles::of(&latencies),
        failed_batches: shared.failed.load(Ordering::Relaxed),
        db_cost,
    })
}

/// The product and the hot SKU's stock, enough for any run.
async fn seed(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO products (sku, name, price_minor, currency, active, version, updated_at) \
         VALUES ($1, 'Store ceiling', $2, 'USD', true, 1, now())",
    )
    .bind(SKU)
    .bind(PRICE_MINOR)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO inventory (sku, on_hand, reserved, sold, version) \
         VALUES ($1, $2, 0, 0, 1)",
    )
    .bind(SKU)
    .bind(i64::MAX / 2)
    .execute(pool)
    .await?;
    Ok(())
}

/// One batch's rows, bound as one array per column.
struct Batch {
    keys: Vec<String>,
    hashes: Vec<String>,
    order_ids: Vec<uuid::Uuid>,
    answers: Vec<Vec<u8>>,
    shipments: Vec<String>,
    payment_ids: Vec<uuid::Uuid>,
    reservation_ids: Vec<uuid::Uuid>,
    event_ids: Vec<uuid::Uuid>,
    aggregate_types: Vec<&'static str>,
    aggregate_ids: Vec<String>,
    sequences: Vec<i64>,
    event_types: Vec<&'static str>,
    payloads: Vec<String>,
}

/// Builds the rows of `orders` orders whose SKU events take the sequences from `sku_sequence`.
fn build(orders: usize, sku_sequence: i64) -> Batch {
    let events = orders * EVENTS_PER_ORDER;
    let mut b = Batch {
        keys: Vec::with_capacity(orders),
        hashes: Vec::with_capacity(orders),
        order_ids: Vec::with_capacity(orders),
        answers: Vec::with_capacity(orders),
        shipments: Vec::with_capacity(orders),
        payment_ids: Vec::with_capacity(orders),
        reservation_ids: Vec::with_capacity(orders),
        event_ids: Vec::with_capacity(events),
        aggregate_types: Vec::with_capacity(events),
        aggregate_ids: Vec::with_capacity(events),
        sequences: Vec::with_capacity(events),
        event_types: Vec::with_capacity(events),
        payloads: Vec::with_capacity(events),
    };
    let mut sku_sequence = sku_sequence;
    for _ in 0..orders {
        let order = uuid::Uuid::new_v4();
        let payment = uuid::Uuid::new_v4();
        let reservation = uuid::Uuid::new_v4();
        let shipment = format!("shp_{order}");
        b.keys
            .push(format!("ceiling-{}", uuid::Uuid::new_v4().simple()));
        b.hashes
            .push(format!("{}{}", order.simple(), payment.simple()));
        b.answers.push(answer(order));
        let order_events: [(&str, String); ORDER_EVENTS] = [
            ("order.placed", placed_payload(order)),
            ("order.reserved", format!(r#"{{"order_id": "{order}"}}"#)),
            (
                "order.payment_authorized",
                format!(
                    r#"{{"amount": {{"amount": {PRICE_MINOR}, "currency": "USD"}}, "order_id": "{order}", "payment_id": "{payment}"}}"#
                ),
            ),
            ("order.confirmed", format!(r#"{{"order_id": "{order}"}}"#)),
            (
                "order.fulfillment_requested",
                format!(r#"{{"order_id": "{order}", "shipment_id": "{shipment}"}}"#),
            ),
        ];
        for (sequence, (event_type, payload)) in (1i64..).zip(order_events) {
            b.event_ids.push(uuid::Uuid::now_v7());
            b.aggregate_types.push("order");
            b.aggregate_ids.push(order.to_string());
            b.sequences.push(sequence);
            b.event_types.push(event_type);
            b.payloads.push(payload);
        }
        let sku_events: [(&str, String); SKU_EVENTS] = [
            (
                "inventory.reserved",
                format!(
                    r#"{{"sku": "{SKU}", "quantity": 1, "expires_at_ms": 1796190277942, "reservation_id": "{reservation}"}}"#
                ),
            ),
            (
                "inventory.committed",
                format!(r#"{{"sku": "{SKU}", "quantity": 1, "reservation_id": "{reservation}"}}"#),
            ),
        ];
        for (event_type, payload) in sku_events {
            b.event_ids.push(uuid::Uuid::now_v7());
            b.aggregate_types.push("inventory");
            b.aggregate_ids.push(SKU.to_string());
            b.sequences.push(sku_sequence);
            sku_sequence += 1;
            b.event_types.push(event_type);
            b.payloads.push(payload);
        }
        b.order_ids.push(order);
        b.shipments.push(shipment);
        b.payment_ids.push(payment);
        b.reservation_ids.push(reservation);
    }
    b
}

fn placed_payload(order: uuid::Uuid) -> String {
    format!(
        r#"{{"cart_id": null, "customer": null, "lines": [{{"quantity": 1, "sku": "{SKU}", "unit_price": {{"amount": {PRICE_MINOR}, "currency": "USD"}}}}], "order_id": "{order}", "placed_at_ms": 1796190277942, "shipping_address": {{"city": "London", "country": "GB", "line1": "1 Main St", "line2": null, "name": "Ada Lovelace", "postal_code": "SW1A 1AA"}}}}"#
    )
}

/// A stored answer of a real answer's size.
fn answer(order: uuid::Uuid) -> Vec<u8> {
    let mut body =
        format!(r#"{{"id":"{order}","status":"fulfillment_requested","lines":["#).into_bytes();
    body.resize(ANSWER_BYTES - 2, b' ');
    body.extend_from_slice(b"]}");
    body
}

/// Every row of one batch and the SKU's counters, in one statement: one round trip, committed
/// on its own, so the figure is Postgres's and not the client's.
const BATCH_SQL: &str = "WITH
keys AS (
  INSERT INTO idempotency_keys (scope, key, request_hash, order_id, status_code, response_body,
                                created_at, completed_at)
  SELECT 'buy_now', u.key, u.hash, u.id, 201, u.body, now(), now()
  FROM UNNEST($1::TEXT[], $2::TEXT[], $3::UUID[], $4::BYTEA[]) AS u (key, hash, id, body)),
orders AS (
  INSERT INTO orders (order_id, customer_id, cart_id, status, total_minor, currency, ship_name,
                      ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,
                      shipment_id, failure_reason, placed_at, version, updated_at)
  SELECT u.id, NULL, NULL, 'fulfillment_requested', $5, 'USD', 'Ada Lovelace', '1 Main St', NULL,
         'London', 'SW1A 1AA', 'GB', u.shipment, NULL, now(), 5, now()
  FROM UNNEST($3::UUID[], $6::TEXT[]) AS u (id, shipment)),
lines AS (
  INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor, line_total_minor,
                           currency)
  SELECT u.id, 0, $7, 1, $5, $5, 'USD' FROM UNNEST($3::UUID[]) AS u (id)),
payments AS (
  INSERT INTO payments (payment_id, order_id, amount_minor, currency, status, updated_at)
  SELECT u.payment, u.id, $5, 'USD', 'authorized', now()
  FROM UNNEST($8::UUID[], $3::UUID[]) AS u (payment, id)),
reservations AS (
  INSERT INTO reservations (reservation_id, sku, quantity, status, expires_at, updated_at)
  SELECT u.id, $7, 1, 'committed', now() + INTERVAL '15 minutes', now()
  FROM UNNEST($9::UUID[]) AS u (id)),
sagas AS (
  INSERT INTO checkout_sagas (order_id, cart_id, step, payment_token, failure_reason, started_at,
                              updated_at)
  SELECT u.id, NULL, 'completed', 'tok_visa', NULL, now(), now() FROM UNNEST($3::UUID[]) AS u (id)),
events AS (
  INSERT INTO outbox (event_id, aggregate_type, aggregate_id, sequence, event_type, schema_version,
                      payload, created_at)
  SELECT u.id, u.aggregate_type, u.aggregate_id, u.sequence, u.event_type, 1, u.payload::JSONB,
         now()
  FROM UNNEST($10::UUID[], $11::TEXT[], $12::TEXT[], $13::BIGINT[], $14::TEXT[], $15::TEXT[])
       AS u (id, aggregate_type, aggregate_id, sequence, event_type, payload))
UPDATE inventory SET on_hand = on_hand - $16, sold = sold + $16, version = version + 1
WHERE sku = $7";

async fn write_batch(pool: &PgPool, shared: &Shared, orders: usize) -> Result<(), sqlx::Error> {
    let sku_events = i64::try_from(orders * SKU_EVENTS).unwrap_or(i64::MAX);
    let first = shared.sku_sequence.fetch_add(sku_events, Ordering::Relaxed);
    let b = build(orders, first);
    let units = i64::try_from(orders).unwrap_or(i64::MAX);
    let result = sqlx::query(BATCH_SQL)
        .bind(&b.keys)
        .bind(&b.hashes)
        .bind(&b.order_ids)
        .bind(&b.answers)
        .bind(PRICE_MINOR)
        .bind(&b.shipments)
        .bind(SKU)
        .bind(&b.payment_ids)
        .bind(&b.reservation_ids)
        .bind(&b.event_ids)
        .bind(&b.aggregate_types)
        .bind(&b.aggregate_ids)
        .bind(&b.sequences)
        .bind(&b.event_types)
        .bind(&b.payloads)
        .bind(units)
        .execute(pool)
        .await?;
    if result.rows_affected() == 1 {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!(
            "the hot SKU's counters moved {} rows, not 1",
            result.rows_affected()
        )))
    }
}

/// The bench's line for the store ceiling.
pub fn summary_line(r: &StoreCeilingReport) -> String {
    format!(
        "store ceiling: {} orders in {:.1} s ({:.1}/s), {} per transaction on {} writer(s); \
         transaction p50 {:.1} ms, p99 {:.1} ms; {} failed batches",
        r.orders,
        r.seconds,
        r.orders_per_s,
        r.plan.batch,
        r.plan.writers,
        r.batch_latency.p50_ms,
        r.batch_latency.p99_ms,
        r.failed_batches
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_holds_every_row_of_every_order_and_numbers_the_skus_events_from_its_first() {
        let b = build(3, 40);
        assert_eq!(b.order_ids.len(), 3);
        assert_eq!(b.keys.len(), 3);
        assert_eq!(b.event_ids.len(), 3 * EVENTS_PER_ORDER);
        let sku_sequences: Vec<i64> = b
            .aggregate_types
            .iter()
            .zip(&b.sequences)
            .filter(|(t, _)| **t == "inventory")
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(sku_sequences, vec![40, 41, 42, 43, 44, 45]);
        let order_sequences: Vec<i64> = b
            .aggregate_ids
            .iter()
            .zip(&b.sequences)
            .filter(|(id, _)| **id == b.order_ids[1].to_string())
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(order_sequences, vec![1, 2, 3, 4, 5]);
        assert!(b.answers.iter().all(|a| a.len() == ANSWER_BYTES));
        assert!(b
            .payloads
            .iter()
            .all(|p| serde_json::from_str::<serde_json::Value>(p).is_ok_and(|v| v.is_object())));
    }

    #[test]
    fn a_plan_out_of_bounds_is_refused() {
        let plan = |batch, writers| StoreCeilingPlan {
            batch,
            writers,
            warmup_s: 1.0,
            duration_s: 5.0,
        };
        assert!(plan(500, 2).check().is_ok());
        assert!(plan(0, 2).check().is_err());
        assert!(plan(STORE_CEILING_BATCH_MAX + 1, 2).check().is_err());
        assert!(plan(500, 0).check().is_err());
        assert!(plan(500, STORE_CEILING_WRITERS_MAX + 1).check().is_err());
    }
}
