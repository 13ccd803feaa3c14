//! Loading and committing orders (with their lines and payment) on SQLite.

use actors::ports::{OrderChange, StoreError};
use domain::{Order, OrderId, OrderSnapshot};
use sqlx::sqlite::{SqliteConnection, SqliteQueryResult};
use sqlx::{Sqlite, Transaction};

use super::aggregates::{expect_rows, insert_outbox, versioned};
use super::{id, opt_id, text, SqliteStore};
use crate::convert::to_i64;
use crate::error;
use crate::plan::{plan, Plan};
use crate::rows::{self, OrderLineRow, OrderRow, PaymentRow};

type OrderTuple = (
    Option<String>,
    Option<String>,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

impl SqliteStore {
    pub(super) async fn load_order_rows(&self, order_id: OrderId) -> Result<Order, StoreError> {
        let key = text(order_id.as_u128());
        let mut tx = self.read_tx().await?;
        let row: Option<OrderTuple> = sqlx::query_as(
            "SELECT customer_id, cart_id, status, total_minor, currency, ship_name, ship_line1,
                    ship_line2, ship_city, ship_postal_code, ship_country, shipment_id,
                    failure_reason, placed_at, version
             FROM orders WHERE order_id = ?1",
        )
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error::map)?;
        let Some(row) = row else {
            return Ok(Order::new(order_id));
        };
        let lines: Vec<(String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT sku, quantity, unit_price_minor, line_total_minor, currency
             FROM order_lines WHERE order_id = ?1 ORDER BY line_no",
        )
        .bind(&key)
        .fetch_all(&mut *tx)
        .await
        .map_err(error::map)?;
        let payment: Option<(String, i64, String, String)> = sqlx::query_as(
            "SELECT payment_id, amount_minor, currency, status FROM payments WHERE order_id = ?1",
        )
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error::map)?;
        let lines = lines
            .into_iter()
            .map(
                |(sku, quantity, unit_price_minor, line_total_minor, currency)| OrderLineRow {
                    sku,
                    quantity,
                    unit_price_minor,
                    line_total_minor,
                    currency,
                },
            )
            .collect();
        let payment = payment
            .map(|(payment_id, amount_minor, currency, status)| {
                Ok::<_, StoreError>(PaymentRow {
                    payment_id: id(&payment_id)?,
                    amount_minor,
                    currency,
                    status,
                })
            })
            .transpose()?;
        rows::order(order_id, order_row(row)?, lines, payment)
    }

    pub(super) async fn commit_orders(&self, changes: Vec<OrderChange>) -> Result<(), StoreError> {
        let tx = self.write_tx().await?;
        let tx = Self::write_orders(tx, &changes).await?;
        tx.commit().await.map_err(error::map)
    }

    /// Writes one aggregate's batch into `tx` and hands the transaction back, so a group commit
    /// can put several aggregates' batches in one transaction. On error `tx` is dropped, which
    /// rolls it back.
    pub(super) async fn write_orders(
        mut tx: Transaction<'static, Sqlite>,
        changes: &[OrderChange],
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        let (Some(plan), Some(last)) = (plan(changes)?, changes.last()) else {
            return Ok(tx);
        };
        let order = &last.order;
        if plan.expected_version == 0 {
            versioned(&plan, insert_order(&mut tx, &plan, order).await)?;
            insert_order_lines(&mut tx, order).await?;
        } else {
            versioned(&plan, update_order(&mut tx, &plan, order).await)?;
        }
        if crate::plan::payment_changed(changes) {
            write_payment(&mut tx, &plan, order).await?;
        }
        // The saga step of the last change that carries one: the record after this batch.
        if let Some(saga) = changes.iter().rev().find_map(|c| c.saga.as_ref()) {
            super::keys::upsert_saga(&mut *tx, saga).await?;
        }
        insert_outbox(&mut tx, &plan).await?;
        Ok(tx)
    }
}

fn order_row(t: OrderTuple) -> Result<OrderRow, StoreError> {
    Ok(OrderRow {
        customer_id: opt_id(t.0)?,
        cart_id: opt_id(t.1)?,
        status: t.2,
        total_minor: t.3,
        currency: t.4,
        ship_name: t.5,
        ship_line1: t.6,
        ship_line2: t.7,
        ship_city: t.8,
        ship_postal_code: t.9,
        ship_country: t.10,
        shipment_id: t.11,
        failure_reason: t.12,
        placed_at_ms: t.13,
        version: t.14,
    })
}

async fn insert_order(
    tx: &mut SqliteConnection,
    plan: &Plan,
    o: &OrderSnapshot,
) -> Result<SqliteQueryResult, sqlx::Error> {
    let a = &o.shipping_address;
    sqlx::query(
        "INSERT INTO orders (order_id, customer_id, cart_id, status, total_minor, currency,
             ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,
             shipment_id, failure_reason, placed_at, version, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )
    .bind(text(o.id.as_u128()))
    .bind(o.customer.map(|c| text(c.as_u128())))
    .bind(o.cart_id.map(|c| text(c.as_u128())))
    .bind(o.status.as_str())
    .bind(o.total.amount_minor())
    .bind(o.total.currency().as_str())
    .bind(a.name())
    .bind(a.line1())
    .bind(a.line2())
    .bind(a.city())
    .bind(a.postal_code())
    .bind(a.country().as_str().to_owned())
    .bind(o.shipment_id.as_ref().map(|s| s.as_str()))
    .bind(o.failure_reason.map(|r| r.as_str()))
    .bind(o.placed_at.unix_ms())
    .bind(plan.version)
    .bind(plan.updated_at_ms)
    .execute(&mut *tx)
    .await
}

/// After placement only the status and what the saga learns change.
async fn update_order(
    tx: &mut SqliteConnection,
    plan: &Plan,
    o: &OrderSnapshot,
) -> Result<SqliteQueryResult, sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET status = ?3, shipment_id = ?4, failure_reason = ?5, version = ?6,
                updated_at = ?7
         WHERE version = ?1 AND order_id = ?2",
    )
    .bind(plan.expected_version)
    .bind(text(o.id.as_u128()))
    .bind(o.status.as_str())
    .bind(o.shipment_id.as_ref().map(|s| s.as_str()))
    .bind(o.failure_reason.map(|r| r.as_str()))
    .bind(plan.version)
    .bind(plan.updated_at_ms)
    .execute(&mut *tx)
    .await
}

async fn insert_order_lines(
    tx: &mut SqliteConnection,
    o: &OrderSnapshot,
) -> Result<(), StoreError> {
    let order_id = text(o.id.as_u128());
    for (line_no, line) in o.lines.iter().enumerate() {
        let result = sqlx::query(
            "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor,
                                      line_total_minor, currency)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&order_id)
        .bind(to_i64(line_no as u64, "order line number")?)
        .bind(line.sku().as_str())
        .bind(i64::from(line.quantity().get()))
        .bind(line.unit_price().amount_minor())
        .bind(line.line_total().amount_minor())
        .bind(line.unit_price().currency().as_str())
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
        expect_rows(result.rows_affected(), 1, "order lines")?;
    }
    Ok(())
}

/// Mirrors `OrderSnapshot.payment`, keyed by order (a retried authorization replaces it).
async fn write_payment(
    tx: &mut SqliteConnection,
    plan: &Plan,
    o: &OrderSnapshot,
) -> Result<(), StoreError> {
    let order_id = text(o.id.as_u128());
    // Called only for a batch that moved the payment, and no event removes one.
    let Some(payment) = o.payment else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO payments (payment_id, order_id, amount_minor, currency, status, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (order_id) DO UPDATE
         SET payment_id = excluded.payment_id, amount_minor = excluded.amount_minor,
             currency = excluded.currency, status = excluded.status, updated_at = excluded.updated_at",
    )
    .bind(text(payment.id().as_u128()))
    .bind(&order_id)
    .bind(payment.amount().amount_minor())
    .bind(payment.amount().currency().as_str())
    .bind(payment.status().as_str())
    .bind(plan.updated_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    Ok(())
}
