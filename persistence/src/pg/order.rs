//! Loading and committing orders (with their lines and payment) on Postgres.

use actors::ports::{OrderChange, StoreError};
use domain::{Order, OrderId, OrderSnapshot};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};

use super::aggregates::{expect_rows, insert_outbox, versioned};
use super::{uuid, PgStore};
use crate::error;
use crate::plan::{plan, Plan};
use crate::rows::{self, OrderLineRow, OrderRow, PaymentRow};

/// The order row's columns in `OrderRow` order.
const ORDER_COLUMNS: &str =
    "SELECT customer_id, cart_id, status, total_minor, currency, ship_name, ship_line1,
        ship_line2, ship_city, ship_postal_code, ship_country, shipment_id, failure_reason,
        unix_ms(placed_at), version
 FROM orders WHERE order_id = $1";

type OrderTuple = (
    Option<uuid::Uuid>,
    Option<uuid::Uuid>,
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

impl PgStore {
    pub(super) async fn load_order_rows(&self, id: OrderId) -> Result<Order, StoreError> {
        let order_id = uuid(id.as_u128());
        let mut tx = self.snapshot_read().await?;
        let row: Option<OrderTuple> = sqlx::query_as(ORDER_COLUMNS)
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(error::map)?;
        let Some(row) = row else {
            return Ok(Order::new(id));
        };
        let lines: Vec<(String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT sku, quantity, unit_price_minor, line_total_minor, currency
             FROM order_lines WHERE order_id = $1 ORDER BY line_no",
        )
        .bind(order_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(error::map)?;
        let payment: Option<(uuid::Uuid, i64, String, String)> = sqlx::query_as(
            "SELECT payment_id, amount_minor, currency, status FROM payments WHERE order_id = $1",
        )
        .bind(order_id)
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
        let payment = payment.map(|(id, amount_minor, currency, status)| PaymentRow {
            payment_id: id.as_u128(),
            amount_minor,
            currency,
            status,
        });
        rows::order(id, order_row(row), lines, payment)
    }

    pub(super) async fn commit_orders(&self, changes: Vec<OrderChange>) -> Result<(), StoreError> {
        let tx = self.pool.begin().await.map_err(error::map)?;
        let tx = Self::write_orders(tx, &changes).await?;
        tx.commit().await.map_err(error::map)
    }

    /// Writes one aggregate's batch into `tx` and hands the transaction back, so a group commit
    /// can put several aggregates' batches in one transaction. On error `tx` is dropped, which
    /// rolls it back.
    pub(super) async fn write_orders(
        mut tx: Transaction<'static, Postgres>,
        changes: &[OrderChange],
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let (Some(plan), Some(last)) = (plan(changes)?, changes.last()) else {
            return Ok(tx);
        };
        let order = &last.order;
        if plan.expected_version == 0 {
            let written = insert_order(&mut tx, order, plan.version, plan.updated_at_ms).await;
            versioned(&plan, written)?;
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

fn order_row(t: OrderTuple) -> OrderRow {
    OrderRow {
        customer_id: t.0.map(|u| u.as_u128()),
        cart_id: t.1.map(|u| u.as_u128()),
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
    }
}

/// The order row as placed, at `version`. Shared with the naive-sql baseline, which writes the
/// same row in its one transaction.
pub(crate) async fn insert_order(
    tx: &mut PgConnection,
    o: &OrderSnapshot,
    version: i64,
    updated_at_ms: i64,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    let a = &o.shipping_address;
    sqlx::query(
        "INSERT INTO orders (order_id, customer_id, cart_id, status, total_minor, currency,
             ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,
             shipment_id, failure_reason, placed_at, version, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                 from_unix_ms($15), $16, from_unix_ms($17))",
    )
    .bind(uuid(o.id.as_u128()))
    .bind(o.customer.map(|c| uuid(c.as_u128())))
    .bind(o.cart_id.map(|c| uuid(c.as_u128())))
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
    .bind(version)
    .bind(updated_at_ms)
    .execute(&mut *tx)
    .await
}

/// After placement only the status and what the saga learns change; lines, total, address and
/// customer are fixed when the order is placed.
async fn update_order(
    tx: &mut PgConnection,
    plan: &Plan,
    o: &OrderSnapshot,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET status = $3, shipment_id = $4, failure_reason = $5, version = $6,
                updated_at = from_unix_ms($7)
         WHERE version = $1 AND order_id = $2",
    )
    .bind(plan.expected_version)
    .bind(uuid(o.id.as_u128()))
    .bind(o.status.as_str())
    .bind(o.shipment_id.as_ref().map(|s| s.as_str()))
    .bind(o.failure_reason.map(|r| r.as_str()))
    .bind(plan.version)
    .bind(plan.updated_at_ms)
    .execute(&mut *tx)
    .await
}

/// The order's lines, numbered in order. Shared with the naive-sql baseline.
pub(crate) async fn insert_order_lines(
    tx: &mut PgConnection,
    o: &OrderSnapshot,
) -> Result<(), StoreError> {
    let skus: Vec<&str> = o.lines.iter().map(|l| l.sku().as_str()).collect();
    let quantities: Vec<i64> = o
        .lines
        .iter()
        .map(|l| i64::from(l.quantity().get()))
        .collect();
    let prices: Vec<i64> = o
        .lines
        .iter()
        .map(|l| l.unit_price().amount_minor())
        .collect();
    let totals: Vec<i64> = o
        .lines
        .iter()
        .map(|l| l.line_total().amount_minor())
        .collect();
    let currencies: Vec<String> = o
        .lines
        .iter()
        .map(|l| l.unit_price().currency().to_string())
        .collect();
    let result = sqlx::query(
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor,
                                  line_total_minor, currency)
         SELECT $1, (u.line_no - 1)::INTEGER, u.sku, u.quantity, u.price, u.total, u.currency
         FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[])
              WITH ORDINALITY AS u (sku, quantity, price, total, currency, line_no)",
    )
    .bind(uuid(o.id.as_u128()))
    .bind(&skus)
    .bind(&quantities)
    .bind(&prices)
    .bind(&totals)
    .bind(&currencies)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    expect_rows(result.rows_affected(), o.lines.len(), "order lines")
}

/// Mirrors `OrderSnapshot.payment`: the latest authorization attempt replaces an earlier one
/// (a declined payment may be retried with a new id), so the row is keyed by order.
async fn write_payment(
    tx: &mut PgConnection,
    plan: &Plan,
    o: &OrderSnapshot,
) -> Result<(), StoreError> {
    let order_id = uuid(o.id.as_u128());
    // Called only for a batch that moved the payment, and no event removes one.
    let Some(payment) = o.payment else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO payments (payment_id, order_id, amount_minor, currency, status, updated_at)
         VALUES ($1, $2, $3, $4, $5, from_unix_ms($6))
         ON CONFLICT (order_id) DO UPDATE
         SET payment_id = EXCLUDED.payment_id, amount_minor = EXCLUDED.amount_minor,
             currency = EXCLUDED.currency, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at",
    )
    .bind(uuid(payment.id().as_u128()))
    .bind(order_id)
    .bind(payment.amount().amount_minor())
    .bind(payment.amount().currency().as_str())
    .bind(payment.status().as_str())
    .bind(plan.updated_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    Ok(())
}
