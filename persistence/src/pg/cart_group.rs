//! Group commit of many carts on Postgres: the batches of every cart in the group are written
//! with one multi-row statement per table (carts inserted, carts updated under their version
//! checks, lines replaced, outbox), so a group of N carts costs five round trips instead of
//! four per cart. A cart storm (every shopper's own cart) is the path this serves; a lone
//! cart's commit is a group of one.

use actors::ports::{CartChange, StoreError};
use domain::cart::CartSnapshot;
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};

use super::aggregates::{expect_rows, insert_outbox_rows};
use super::{uuid, PgStore};
use crate::error;
use crate::plan::{plan, Plan};
use crate::rows;

/// One cart's part of the group: its checked plan and its state after the batch.
struct Member<'a> {
    plan: Plan,
    cart: &'a CartSnapshot,
}

impl PgStore {
    /// Writes every batch of `batches` into `tx`. A version conflict in any cart fails the whole
    /// write (`StoreError::Conflict`); the caller then commits the carts one by one to find it.
    pub(super) async fn write_carts_group(
        mut tx: Transaction<'static, Postgres>,
        batches: &[Vec<CartChange>],
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut members = Vec::with_capacity(batches.len());
        for changes in batches {
            let (Some(plan), Some(last)) = (plan(changes)?, changes.last()) else {
                continue;
            };
            members.push(Member {
                plan,
                cart: &last.cart,
            });
        }
        let (new, existing): (Vec<&Member>, Vec<&Member>) =
            members.iter().partition(|m| m.plan.expected_version == 0);
        insert_carts(&mut tx, &new).await?;
        update_carts(&mut tx, &existing).await?;
        replace_lines(&mut tx, &members, &existing).await?;
        let plans: Vec<&Plan> = members.iter().map(|m| &m.plan).collect();
        insert_outbox_rows(&mut tx, &plans).await?;
        Ok(tx)
    }
}

/// The columns of `carts` that a batch sets, one vector per column.
struct CartColumns<'a> {
    ids: Vec<uuid::Uuid>,
    customers: Vec<Option<uuid::Uuid>>,
    statuses: Vec<&'a str>,
    orders: Vec<Option<uuid::Uuid>>,
    versions: Vec<i64>,
    updated: Vec<i64>,
}

impl<'a> CartColumns<'a> {
    fn of(members: &[&'a Member<'a>]) -> CartColumns<'a> {
        let mut columns = CartColumns {
            ids: Vec::with_capacity(members.len()),
            customers: Vec::with_capacity(members.len()),
            statuses: Vec::with_capacity(members.len()),
            orders: Vec::with_capacity(members.len()),
            versions: Vec::with_capacity(members.len()),
            updated: Vec::with_capacity(members.len()),
        };
        for m in members {
            let (status, order_id) = rows::cart_status_columns(m.cart.status);
            columns.ids.push(uuid(m.cart.id.as_u128()));
            columns
                .customers
                .push(m.cart.customer.map(|c| uuid(c.as_u128())));
            columns.statuses.push(status);
            columns.orders.push(order_id.map(uuid));
            columns.versions.push(m.plan.version);
            columns.updated.push(m.plan.updated_at_ms);
        }
        columns
    }
}

async fn insert_carts(tx: &mut PgConnection, new: &[&Member<'_>]) -> Result<(), StoreError> {
    if new.is_empty() {
        return Ok(());
    }
    let c = CartColumns::of(new);
    let created: Vec<i64> = new.iter().map(|m| m.plan.created_at_ms).collect();
    let result = sqlx::query(
        "INSERT INTO carts (cart_id, customer_id, status, order_id, version, updated_at, created_at)
         SELECT u.id, u.customer, u.status, u.order_id, u.version, from_unix_ms(u.updated),
                from_unix_ms(u.created)
         FROM UNNEST($1::UUID[], $2::UUID[], $3::TEXT[], $4::UUID[], $5::BIGINT[], $6::BIGINT[],
                     $7::BIGINT[]) AS u (id, customer, status, order_id, version, updated, created)",
    )
    .bind(&c.ids)
    .bind(&c.customers)
    .bind(&c.statuses)
    .bind(&c.orders)
    .bind(&c.versions)
    .bind(&c.updated)
    .bind(&created)
    .execute(&mut *tx)
    .await
    .map_err(error::map_insert)?;
    expect_rows(result.rows_affected(), new.len(), "new carts")
}

/// Every row must still be at its expected version, or the whole group conflicts.
async fn update_carts(tx: &mut PgConnection, existing: &[&Member<'_>]) -> Result<(), StoreError> {
    if existing.is_empty() {
        return Ok(());
    }
    let c = CartColumns::of(existing);
    let expected: Vec<i64> = existing.iter().map(|m| m.plan.expected_version).collect();
    // Unnamed: a join whose generic plan could be a bad one (see the orders' update).
    let result = sqlx::query(
        "UPDATE carts AS c
         SET customer_id = u.customer, status = u.status, order_id = u.order_id,
             version = u.version, updated_at = from_unix_ms(u.updated)
         FROM UNNEST($1::UUID[], $2::BIGINT[], $3::UUID[], $4::TEXT[], $5::UUID[], $6::BIGINT[],
                     $7::BIGINT[]) AS u (id, expected, customer, status, order_id, version, updated)
         WHERE c.cart_id = u.id AND c.version = u.expected",
    )
    .persistent(false)
    .bind(&c.ids)
    .bind(&expected)
    .bind(&c.customers)
    .bind(&c.statuses)
    .bind(&c.orders)
    .bind(&c.versions)
    .bind(&c.updated)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    if result.rows_affected() == existing.len() as u64 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// Replaces the lines of every cart in the group with its final lines (a new cart has none to
/// delete): carts are small (`CART_LINES_MAX`), so rewriting beats diffing.
async fn replace_lines(
    tx: &mut PgConnection,
    members: &[Member<'_>],
    existing: &[&Member<'_>],
) -> Result<(), StoreError> {
    if !existing.is_empty() {
        let ids: Vec<uuid::Uuid> = existing.iter().map(|m| uuid(m.cart.id.as_u128())).collect();
        sqlx::query("DELETE FROM cart_lines WHERE cart_id = ANY($1::UUID[])")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(error::map)?;
    }
    let count: usize = members.iter().map(|m| m.cart.lines.len()).sum();
    if count == 0 {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(count);
    let mut skus = Vec::with_capacity(count);
    let mut quantities = Vec::with_capacity(count);
    let mut prices = Vec::with_capacity(count);
    let mut currencies = Vec::with_capacity(count);
    let mut positions = Vec::with_capacity(count);
    for m in members {
        for (position, line) in m.cart.lines.iter().enumerate() {
            ids.push(uuid(m.cart.id.as_u128()));
            skus.push(line.sku().as_str());
            quantities.push(i64::from(line.quantity().get()));
            prices.push(line.unit_price().amount_minor());
            currencies.push(line.unit_price().currency().to_string());
            positions.push(i32::try_from(position).unwrap_or(i32::MAX));
        }
    }
    let result = sqlx::query(
        "INSERT INTO cart_lines (cart_id, sku, quantity, unit_price_minor, currency, position)
         SELECT * FROM UNNEST($1::UUID[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[],
                              $6::INTEGER[])",
    )
    .bind(&ids)
    .bind(&skus)
    .bind(&quantities)
    .bind(&prices)
    .bind(&currencies)
    .bind(&positions)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    expect_rows(result.rows_affected(), count, "cart lines")
}
