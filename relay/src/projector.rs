//! The order read model: a denormalized order list per customer (`order_views`) and per SKU
//! (`order_view_skus`), projected from the `order` stream.

use async_trait::async_trait;
use serde::Deserialize;
use uuid::Uuid;

use crate::consumer::{Handler, HandlerError};
use crate::db::Tx;
use crate::envelope::Envelope;

pub const ORDER_READ_MODEL: &str = "order-read-model";

pub struct OrderProjector;

#[derive(Deserialize)]
struct MoneyDto {
    amount: i64,
    currency: String,
}

#[derive(Deserialize)]
struct LineDto {
    sku: String,
    quantity: i64,
}

#[derive(Deserialize)]
struct Placed {
    order_id: Uuid,
    customer_id: Option<Uuid>,
    lines: Vec<LineDto>,
    total: MoneyDto,
    placed_at_ms: i64,
}

#[derive(Deserialize)]
struct OrderOnly {
    order_id: Uuid,
}

fn parse<'a, T: Deserialize<'a>>(e: &'a Envelope) -> Result<T, HandlerError> {
    serde_json::from_str(&e.payload)
        .map_err(|err| HandlerError::Rejected(format!("{} payload: {err}", e.event_type)))
}

/// The status an order event moves the order to; `None` for events the list does not show.
fn status_after(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "order.reserved" => "reserved",
        "order.confirmed" => "confirmed",
        "order.fulfillment_requested" => "fulfillment_requested",
        "order.shipped" => "shipped",
        "order.delivered" => "delivered",
        "order.failed" => "failed",
        "order.cancelled" => "cancelled",
        _ => return None,
    })
}

#[async_trait]
impl Handler for OrderProjector {
    fn name(&self) -> &'static str {
        ORDER_READ_MODEL
    }

    fn streams(&self) -> &'static [&'static str] {
        &["order"]
    }

    async fn apply(&self, tx: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        if e.event_type == "order.placed" {
            let placed: Placed = parse(e)?;
            insert_placed(tx, &placed, e.sequence, e.occurred_at_ms).await?;
        } else if let Some(status) = status_after(&e.event_type) {
            let only: OrderOnly = parse(e)?;
            update_status(tx, only.order_id, status, e.sequence, e.occurred_at_ms).await?;
        }
        Ok(())
    }
}

async fn insert_placed(
    tx: &mut Tx,
    p: &Placed,
    sequence: i64,
    at_ms: i64,
) -> Result<(), HandlerError> {
    if p.lines.iter().any(|l| l.quantity <= 0) || p.total.currency.len() != 3 {
        return Err(HandlerError::Rejected(
            "order.placed: bad line or currency".to_owned(),
        ));
    }
    let line_count = i64::try_from(p.lines.len()).unwrap_or(i64::MAX);
    let item_count: i64 = p.lines.iter().map(|l| l.quantity).sum();
    match tx {
        Tx::Postgres(tx) => {
            sqlx::query(
                "INSERT INTO order_views (order_id, customer_id, status, total_minor, currency, \
                 line_count, item_count, placed_at, updated_at, last_sequence) \
                 VALUES ($1, $2, 'placed', $3, $4, $5, $6, from_unix_ms($7), from_unix_ms($8), $9) \
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind(p.order_id)
            .bind(p.customer_id)
            .bind(p.total.amount)
            .bind(&p.total.currency)
            .bind(line_count)
            .bind(item_count)
            .bind(p.placed_at_ms)
            .bind(at_ms)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
            for line in &p.lines {
                sqlx::query(
                    "INSERT INTO order_view_skus (sku, order_id, quantity, placed_at) \
                     VALUES ($1, $2, $3, from_unix_ms($4)) \
                     ON CONFLICT (sku, order_id) DO NOTHING",
                )
                .bind(&line.sku)
                .bind(p.order_id)
                .bind(line.quantity)
                .bind(p.placed_at_ms)
                .execute(&mut **tx)
                .await?;
            }
        }
        Tx::Sqlite(tx) => {
            let order_id = p.order_id.hyphenated().to_string();
            sqlx::query(
                "INSERT INTO order_views (order_id, customer_id, status, total_minor, currency, \
                 line_count, item_count, placed_at, updated_at, last_sequence) \
                 VALUES ($1, $2, 'placed', $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind(&order_id)
            .bind(p.customer_id.map(|c| c.hyphenated().to_string()))
            .bind(p.total.amount)
            .bind(&p.total.currency)
            .bind(line_count)
            .bind(item_count)
            .bind(p.placed_at_ms)
            .bind(at_ms)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
            for line in &p.lines {
                sqlx::query(
                    "INSERT INTO order_view_skus (sku, order_id, quantity, placed_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (sku, order_id) DO NOTHING",
                )
                .bind(&line.sku)
                .bind(&order_id)
                .bind(line.quantity)
                .bind(p.placed_at_ms)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// Moves the order's status forward; an event older than the last applied one changes nothing.
async fn update_status(
    tx: &mut Tx,
    order_id: Uuid,
    status: &str,
    sequence: i64,
    at_ms: i64,
) -> Result<(), HandlerError> {
    match tx {
        Tx::Postgres(tx) => {
            sqlx::query(
                "UPDATE order_views SET status = $1, updated_at = from_unix_ms($2), \
                 last_sequence = $3 WHERE order_id = $4 AND last_sequence < $3",
            )
            .bind(status)
            .bind(at_ms)
            .bind(sequence)
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
        }
        Tx::Sqlite(tx) => {
            sqlx::query(
                "UPDATE order_views SET status = $1, updated_at = $2, \
                 last_sequence = $3 WHERE order_id = $4 AND last_sequence < $3",
            )
            .bind(status)
            .bind(at_ms)
            .bind(sequence)
            .bind(order_id.hyphenated().to_string())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
