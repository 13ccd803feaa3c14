//! Cancelling an order in one transaction: the order cancelled, its payment voided, its shipment
//! request withdrawn, its units back on the shelf, its saga ended.

use actors::ports::{SagaRecord, SagaStep, StoreError};
use actors::AppError;
use domain::order::{self, OrderLine, OrderStatus, PaymentStatus};
use domain::{inventory, Order, OrderId};
use sqlx::postgres::PgConnection;

use super::sql::{self, Outbox};
use super::{decide, recorded, NaiveSqlEngine};
use crate::convert::to_i64;
use crate::error;

impl NaiveSqlEngine {
    /// Cancels an order that has not shipped. The order row is written under its version, so of
    /// two concurrent cancels one wins and the other is a 409 `version_conflict`.
    pub async fn cancel_order(&self, id: OrderId) -> Result<Order, AppError> {
        let mut order = self.order(id).await?;
        let expected_version = order.version();
        // Only a confirmed order's units left the shelf; this engine never holds stock for an
        // unconfirmed one.
        let sold = matches!(
            order.status(),
            OrderStatus::Confirmed | OrderStatus::FulfillmentRequested
        );
        let shipment_requested = order.shipment_id().is_some();
        let now = self.now();
        let mut events =
            decide(&mut order, &order::Command::Cancel, now).map_err(AppError::Order)?;
        if events.is_empty() {
            return Ok(order);
        }
        let payment = order
            .payment()
            .filter(|p| p.status() == PaymentStatus::Authorized)
            .map(|p| p.id());
        if payment.is_some() {
            let voided = order::Command::RecordPaymentVoided;
            events.extend(decide(&mut order, &voided, now).map_err(AppError::Order)?);
        }
        let mut tx = self.pool.begin().await.map_err(error::map)?;
        update_order(&mut tx, &order, expected_version, payment.is_some(), now).await?;
        let mut outbox = Outbox::default();
        outbox.push("order", &id.to_string(), &events)?;
        if sold {
            return_lines(&mut tx, &order, now, &mut outbox).await?;
        }
        let saga = SagaRecord {
            order_id: id,
            cart_id: order.cart_id(),
            step: SagaStep::Failed,
            payment_token: String::new(),
            failure_reason: Some("cancelled".to_owned()),
            started_at: now,
            updated_at: now,
        };
        sql::upsert_saga(&mut tx, &saga).await?;
        outbox.insert(&mut tx).await?;
        // Voided at the provider last, with the order row locked by this transaction: no one
        // else can act on the payment now, and a failed void rolls everything back.
        if let Some(payment_id) = payment {
            self.void(id, Some(payment_id)).await?;
        }
        if shipment_requested {
            self.withdraw_shipment(id).await?;
        }
        tx.commit().await.map_err(error::map)?;
        Ok(order)
    }
}

async fn update_order(
    conn: &mut PgConnection,
    order: &Order,
    expected_version: u64,
    voided: bool,
    now: domain::Timestamp,
) -> Result<(), AppError> {
    let order_id = uuid::Uuid::from_u128(order.id().as_u128());
    let updated = sqlx::query(
        "UPDATE orders SET status = $3, version = $4, updated_at = from_unix_ms($5)
         WHERE order_id = $1 AND version = $2",
    )
    .bind(order_id)
    .bind(to_i64(expected_version, "order version")?)
    .bind(order.status().as_str())
    .bind(to_i64(order.version(), "order version")?)
    .bind(now.unix_ms())
    .execute(&mut *conn)
    .await
    .map_err(error::map)?;
    if updated.rows_affected() != 1 {
        return Err(AppError::Store(StoreError::Conflict));
    }
    if voided {
        sqlx::query(
            "UPDATE payments SET status = 'voided', updated_at = from_unix_ms($2)
             WHERE order_id = $1",
        )
        .bind(order_id)
        .bind(now.unix_ms())
        .execute(conn)
        .await
        .map_err(error::map)?;
    }
    Ok(())
}

/// Returns every line's units, in SKU order like the checkout takes them.
async fn return_lines(
    conn: &mut PgConnection,
    order: &Order,
    now: domain::Timestamp,
    outbox: &mut Outbox,
) -> Result<(), AppError> {
    let mut lines: Vec<&OrderLine> = order.lines().iter().collect();
    lines.sort_by(|a, b| a.sku().as_str().cmp(b.sku().as_str()));
    for line in lines {
        let (sku, quantity) = (line.sku(), line.quantity());
        let version = sql::return_stock(conn, sku, quantity.get()).await?;
        let reservation_id = actors::saga::reservation_id(order.id(), sku);
        sqlx::query(
            "UPDATE reservations SET status = 'returned', updated_at = from_unix_ms($2)
             WHERE reservation_id = $1 AND status = 'committed'",
        )
        .bind(uuid::Uuid::from_u128(reservation_id.as_u128()))
        .bind(now.unix_ms())
        .execute(&mut *conn)
        .await
        .map_err(error::map)?;
        let returned = inventory::Event::Returned {
            reservation_id,
            quantity,
        };
        outbox.push(
            "inventory",
            sku.as_str(),
            &[recorded(version, now, returned)],
        )?;
    }
    Ok(())
}
