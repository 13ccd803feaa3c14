//! Group commit of many orders on Postgres: the batches of every order in the group are written
//! with one multi-row statement per table (orders inserted, orders updated under their version
//! checks, lines, payments, sagas, outbox), so a group of N checkouts costs a handful of round
//! trips instead of a handful per checkout. This is the path cold order actors take when their
//! shard's coalescer groups them.

use actors::ports::{OrderChange, SagaRecord, StoreError};
use domain::order::OrderSnapshot;
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};

use super::aggregates::{expect_rows, insert_outbox_rows};
use super::{uuid, PgStore};
use crate::error;
use crate::plan::{plan, Plan};

/// One order's part of the group: its checked plan and its state after the batch.
struct Member<'a> {
    plan: Plan,
    order: &'a OrderSnapshot,
    saga: Option<&'a SagaRecord>,
    /// The payment to write: the order's, when the batch moved it (no event removes one).
    payment: Option<domain::order::Payment>,
}

impl PgStore {
    /// Writes every batch of `batches` into `tx`. A version conflict in any order fails the whole
    /// write (`StoreError::Conflict`); the caller then commits the orders one by one to find it.
    pub(super) async fn write_orders_group(
        mut tx: Transaction<'static, Postgres>,
        batches: &[Vec<OrderChange>],
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut members = Vec::with_capacity(batches.len());
        for changes in batches {
            let (Some(plan), Some(last)) = (plan(changes)?, changes.last()) else {
                continue;
            };
            let saga = changes.iter().rev().find_map(|c| c.saga.as_ref());
            members.push(Member {
                plan,
                order: &last.order,
                saga,
                payment: last
                    .order
                    .payment
                    .filter(|_| crate::plan::payment_changed(changes)),
            });
        }
        let (new, placed): (Vec<&Member>, Vec<&Member>) =
            members.iter().partition(|m| m.plan.expected_version == 0);
        insert_orders(&mut tx, &new).await?;
        insert_lines(&mut tx, &new).await?;
        update_orders(&mut tx, &placed).await?;
        write_payments(&mut tx, &members).await?;
        upsert_sagas(&mut tx, &members).await?;
        let plans: Vec<&Plan> = members.iter().map(|m| &m.plan).collect();
        insert_outbox_rows(&mut tx, &plans).await?;
        Ok(tx)
    }
}

async fn insert_orders(tx: &mut PgConnection, new: &[&Member<'_>]) -> Result<(), StoreError> {
    if new.is_empty() {
        return Ok(());
    }
    let ids: Vec<uuid::Uuid> = new.iter().map(|m| uuid(m.order.id.as_u128())).collect();
    let customers: Vec<Option<uuid::Uuid>> = new
        .iter()
        .map(|m| m.order.customer.map(|c| uuid(c.as_u128())))
        .collect();
    let carts: Vec<Option<uuid::Uuid>> = new
        .iter()
        .map(|m| m.order.cart_id.map(|c| uuid(c.as_u128())))
        .collect();
    let statuses: Vec<&str> = new.iter().map(|m| m.order.status.as_str()).collect();
    let totals: Vec<i64> = new.iter().map(|m| m.order.total.amount_minor()).collect();
    let currencies: Vec<String> = new
        .iter()
        .map(|m| m.order.total.currency().to_string())
        .collect();
    let names: Vec<&str> = new
        .iter()
        .map(|m| m.order.shipping_address.name())
        .collect();
    let line1s: Vec<&str> = new
        .iter()
        .map(|m| m.order.shipping_address.line1())
        .collect();
    let line2s: Vec<Option<&str>> = new
        .iter()
        .map(|m| m.order.shipping_address.line2())
        .collect();
    let cities: Vec<&str> = new
        .iter()
        .map(|m| m.order.shipping_address.city())
        .collect();
    let postcodes: Vec<&str> = new
        .iter()
        .map(|m| m.order.shipping_address.postal_code())
        .collect();
    let countries: Vec<String> = new
        .iter()
        .map(|m| m.order.shipping_address.country().as_str().to_owned())
        .collect();
    let shipments: Vec<Option<&str>> = new
        .iter()
        .map(|m| m.order.shipment_id.as_ref().map(|s| s.as_str()))
        .collect();
    let reasons: Vec<Option<&str>> = new
        .iter()
        .map(|m| m.order.failure_reason.map(|r| r.as_str()))
        .collect();
    let placed: Vec<i64> = new.iter().map(|m| m.order.placed_at.unix_ms()).collect();
    let versions: Vec<i64> = new.iter().map(|m| m.plan.version).collect();
    let updated: Vec<i64> = new.iter().map(|m| m.plan.updated_at_ms).collect();
    let result = sqlx::query(
        "INSERT INTO orders (order_id, customer_id, cart_id, status, total_minor, currency,
             ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,
             shipment_id, failure_reason, placed_at, version, updated_at)
         SELECT u.id, u.customer, u.cart, u.status, u.total, u.currency, u.name, u.line1, u.line2,
                u.city, u.postcode, u.country, u.shipment, u.reason, from_unix_ms(u.placed),
                u.version, from_unix_ms(u.updated)
         FROM UNNEST($1::UUID[], $2::UUID[], $3::UUID[], $4::TEXT[], $5::BIGINT[], $6::TEXT[],
                     $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[],
                     $13::TEXT[], $14::TEXT[], $15::BIGINT[], $16::BIGINT[], $17::BIGINT[])
              AS u (id, customer, cart, status, total, currency, name, line1, line2, city,
                    postcode, country, shipment, reason, placed, version, updated)",
    )
    .bind(&ids)
    .bind(&customers)
    .bind(&carts)
    .bind(&statuses)
    .bind(&totals)
    .bind(&currencies)
    .bind(&names)
    .bind(&line1s)
    .bind(&line2s)
    .bind(&cities)
    .bind(&postcodes)
    .bind(&countries)
    .bind(&shipments)
    .bind(&reasons)
    .bind(&placed)
    .bind(&versions)
    .bind(&updated)
    .execute(&mut *tx)
    .await
    .map_err(error::map_insert)?;
    expect_rows(result.rows_affected(), new.len(), "new orders")
}

async fn insert_lines(tx: &mut PgConnection, new: &[&Member<'_>]) -> Result<(), StoreError> {
    let lines: Vec<(uuid::Uuid, i32, &domain::order::OrderLine)> = new
        .iter()
        .flat_map(|m| {
            let id = uuid(m.order.id.as_u128());
            m.order
                .lines
                .iter()
                .enumerate()
                .map(move |(n, line)| (id, n as i32, line))
        })
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    let ids: Vec<uuid::Uuid> = lines.iter().map(|l| l.0).collect();
    let numbers: Vec<i32> = lines.iter().map(|l| l.1).collect();
    let skus: Vec<&str> = lines.iter().map(|l| l.2.sku().as_str()).collect();
    let quantities: Vec<i64> = lines
        .iter()
        .map(|l| i64::from(l.2.quantity().get()))
        .collect();
    let prices: Vec<i64> = lines
        .iter()
        .map(|l| l.2.unit_price().amount_minor())
        .collect();
    let totals: Vec<i64> = lines
        .iter()
        .map(|l| l.2.line_total().amount_minor())
        .collect();
    let currencies: Vec<String> = lines
        .iter()
        .map(|l| l.2.unit_price().currency().to_string())
        .collect();
    let result = sqlx::query(
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor,
                                  line_total_minor, currency)
         SELECT * FROM UNNEST($1::UUID[], $2::INTEGER[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[],
                              $6::BIGINT[], $7::TEXT[])",
    )
    .bind(&ids)
    .bind(&numbers)
    .bind(&skus)
    .bind(&quantities)
    .bind(&prices)
    .bind(&totals)
    .bind(&currencies)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    expect_rows(result.rows_affected(), lines.len(), "order lines")
}

/// After placement only the status and what the saga learns change; every row must still be at
/// its expected version, or the whole group conflicts.
async fn update_orders(tx: &mut PgConnection, placed: &[&Member<'_>]) -> Result<(), StoreError> {
    if placed.is_empty() {
        return Ok(());
    }
    let ids: Vec<uuid::Uuid> = placed.iter().map(|m| uuid(m.order.id.as_u128())).collect();
    let expected: Vec<i64> = placed.iter().map(|m| m.plan.expected_version).collect();
    let statuses: Vec<&str> = placed.iter().map(|m| m.order.status.as_str()).collect();
    let shipments: Vec<Option<&str>> = placed
        .iter()
        .map(|m| m.order.shipment_id.as_ref().map(|s| s.as_str()))
        .collect();
    let reasons: Vec<Option<&str>> = placed
        .iter()
        .map(|m| m.order.failure_reason.map(|r| r.as_str()))
        .collect();
    let versions: Vec<i64> = placed.iter().map(|m| m.plan.version).collect();
    let updated: Vec<i64> = placed.iter().map(|m| m.plan.updated_at_ms).collect();
    let result = sqlx::query(
        "UPDATE orders AS o
         SET status = u.status, shipment_id = u.shipment, failure_reason = u.reason,
             version = u.version, updated_at = from_unix_ms(u.updated)
         FROM UNNEST($1::UUID[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[],
                     $7::BIGINT[]) AS u (id, expected, status, shipment, reason, version, updated)
         WHERE o.order_id = u.id AND o.version = u.expected",
    )
    .persistent(false)
    .bind(&ids)
    .bind(&expected)
    .bind(&statuses)
    .bind(&shipments)
    .bind(&reasons)
    .bind(&versions)
    .bind(&updated)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    if result.rows_affected() == placed.len() as u64 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// Mirrors the payment of each order whose batch moved it.
async fn write_payments(tx: &mut PgConnection, members: &[Member<'_>]) -> Result<(), StoreError> {
    let paid: Vec<(&Member, domain::order::Payment)> = members
        .iter()
        .filter_map(|m| m.payment.map(|p| (m, p)))
        .collect();
    if !paid.is_empty() {
        let ids: Vec<uuid::Uuid> = paid.iter().map(|(_, p)| uuid(p.id().as_u128())).collect();
        let orders: Vec<uuid::Uuid> = paid
            .iter()
            .map(|(m, _)| uuid(m.order.id.as_u128()))
            .collect();
        let amounts: Vec<i64> = paid
            .iter()
            .map(|(_, p)| p.amount().amount_minor())
            .collect();
        let currencies: Vec<String> = paid
            .iter()
            .map(|(_, p)| p.amount().currency().to_string())
            .collect();
        let statuses: Vec<&str> = paid.iter().map(|(_, p)| p.status().as_str()).collect();
        let updated: Vec<i64> = paid.iter().map(|(m, _)| m.plan.updated_at_ms).collect();
        sqlx::query(
            "INSERT INTO payments (payment_id, order_id, amount_minor, currency, status, updated_at)
             SELECT u.id, u.order_id, u.amount, u.currency, u.status, from_unix_ms(u.updated)
             FROM UNNEST($1::UUID[], $2::UUID[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[])
                  AS u (id, order_id, amount, currency, status, updated)
             ON CONFLICT (order_id) DO UPDATE
             SET payment_id = EXCLUDED.payment_id, amount_minor = EXCLUDED.amount_minor,
                 currency = EXCLUDED.currency, status = EXCLUDED.status,
                 updated_at = EXCLUDED.updated_at",
        )
        .bind(&ids)
        .bind(&orders)
        .bind(&amounts)
        .bind(&currencies)
        .bind(&statuses)
        .bind(&updated)
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
    }
    Ok(())
}

async fn upsert_sagas(tx: &mut PgConnection, members: &[Member<'_>]) -> Result<(), StoreError> {
    let sagas: Vec<&SagaRecord> = members.iter().filter_map(|m| m.saga).collect();
    if sagas.is_empty() {
        return Ok(());
    }
    let ids: Vec<uuid::Uuid> = sagas.iter().map(|r| uuid(r.order_id.as_u128())).collect();
    let carts: Vec<Option<uuid::Uuid>> = sagas
        .iter()
        .map(|r| r.cart_id.map(|c| uuid(c.as_u128())))
        .collect();
    let steps: Vec<&str> = sagas.iter().map(|r| r.step.as_str()).collect();
    let tokens: Vec<&str> = sagas.iter().map(|r| r.payment_token.as_str()).collect();
    let reasons: Vec<Option<&str>> = sagas.iter().map(|r| r.failure_reason.as_deref()).collect();
    let started: Vec<i64> = sagas.iter().map(|r| r.started_at.unix_ms()).collect();
    let updated: Vec<i64> = sagas.iter().map(|r| r.updated_at.unix_ms()).collect();
    // `started_at` keeps its first value: a saga starts once however often it is saved.
    sqlx::query(
        "INSERT INTO checkout_sagas (order_id, cart_id, step, payment_token, failure_reason,
                                     started_at, updated_at)
         SELECT u.id, u.cart, u.step, u.token, u.reason, from_unix_ms(u.started), from_unix_ms(u.updated)
         FROM UNNEST($1::UUID[], $2::UUID[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[],
                     $7::BIGINT[]) AS u (id, cart, step, token, reason, started, updated)
         ON CONFLICT (order_id) DO UPDATE
         SET cart_id = EXCLUDED.cart_id, step = EXCLUDED.step,
             payment_token = EXCLUDED.payment_token, failure_reason = EXCLUDED.failure_reason,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(&ids)
    .bind(&carts)
    .bind(&steps)
    .bind(&tokens)
    .bind(&reasons)
    .bind(&started)
    .bind(&updated)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    Ok(())
}
