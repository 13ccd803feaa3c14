//! Loading and committing the four aggregates on Postgres.
//!
//! A commit is one transaction: the aggregate row under its version check, its child rows, and
//! its outbox rows. Loads read the row and its children in one REPEATABLE READ transaction so
//! they see one commit, never half of two.

use actors::ports::{CartChange, InventoryChange, ProductChange, StoreError};
use domain::{Cart, CartId, InventorySku, Product, SkuCode};
use sqlx::postgres::{PgConnection, PgQueryResult};
use sqlx::{Postgres, Transaction};

use super::{uuid, PgStore};
use crate::convert::to_i64;
use crate::error;
use crate::plan::{final_reservations, plan, Plan, PAYLOAD_SCHEMA_VERSION};
use crate::rows::{self, CartLineRow, CartRow, InventoryRow, ProductRow, ReservationRow};

/// Reads see one committed state; read-only lets Postgres skip conflict tracking.
const BEGIN_SNAPSHOT_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

impl PgStore {
    pub(super) async fn snapshot_read(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin_with(BEGIN_SNAPSHOT_READ)
            .await
            .map_err(error::map)
    }

    pub(super) async fn load_product_row(&self, sku: &SkuCode) -> Result<Product, StoreError> {
        let row: Option<(String, i64, String, bool, i64)> = sqlx::query_as(
            "SELECT name, price_minor, currency, active, version FROM products WHERE sku = $1",
        )
        .bind(sku.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(error::map)?;
        let Some((name, price_minor, currency, active, version)) = row else {
            return Ok(Product::new(sku.clone()));
        };
        let row = ProductRow {
            name,
            price_minor,
            currency,
            active,
            version,
        };
        rows::product(sku, row)
    }

    pub(super) async fn commit_products(
        &self,
        changes: Vec<ProductChange>,
    ) -> Result<(), StoreError> {
        let tx = self.pool.begin().await.map_err(error::map)?;
        let tx = Self::write_products(tx, &changes).await?;
        tx.commit().await.map_err(error::map)
    }

    /// Writes one aggregate's batch into `tx` and hands the transaction back, so a group commit
    /// can put several aggregates' batches in one transaction. On error `tx` is dropped, which
    /// rolls it back.
    pub(super) async fn write_products(
        mut tx: Transaction<'static, Postgres>,
        changes: &[ProductChange],
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let (Some(plan), Some(last)) = (plan(changes)?, changes.last()) else {
            return Ok(tx);
        };
        let p = &last.product;
        // The update takes the expected version as $1, so both statements bind the same list
        // after it.
        let write = if plan.expected_version == 0 {
            sqlx::query(
                "INSERT INTO products (sku, name, price_minor, currency, active, version, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, from_unix_ms($7))",
            )
        } else {
            sqlx::query(
                "UPDATE products SET name = $3, price_minor = $4, currency = $5, active = $6,
                        version = $7, updated_at = from_unix_ms($8)
                 WHERE version = $1 AND sku = $2",
            )
            .bind(plan.expected_version)
        };
        let write = write
            .bind(p.sku.as_str())
            .bind(p.name.as_str())
            .bind(p.price.amount_minor())
            .bind(p.price.currency().to_string())
            .bind(p.active)
            .bind(plan.version)
            .bind(plan.updated_at_ms);
        versioned(&plan, write.execute(&mut *tx).await)?;
        insert_outbox(&mut tx, &plan).await?;
        Ok(tx)
    }

    pub(super) async fn load_inventory_rows(
        &self,
        sku: &SkuCode,
    ) -> Result<InventorySku, StoreError> {
        let mut tx = self.snapshot_read().await?;
        let row: Option<(i64, i64, i64, i64)> =
            sqlx::query_as("SELECT on_hand, reserved, sold, version FROM inventory WHERE sku = $1")
                .bind(sku.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(error::map)?;
        let Some((on_hand, reserved, sold, version)) = row else {
            return Ok(InventorySku::new(sku.clone()));
        };
        let reservations: Vec<(uuid::Uuid, i64, String, i64)> = sqlx::query_as(
            "SELECT reservation_id, quantity, status, unix_ms(expires_at)
             FROM reservations WHERE sku = $1 ORDER BY reservation_id",
        )
        .bind(sku.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(error::map)?;
        let reservations = reservations
            .into_iter()
            .map(|(id, quantity, status, expires_at_ms)| ReservationRow {
                reservation_id: id.as_u128(),
                quantity,
                status,
                expires_at_ms,
            })
            .collect();
        let row = InventoryRow {
            on_hand,
            reserved,
            sold,
            version,
        };
        rows::inventory(sku, row, reservations)
    }

    pub(super) async fn commit_inventories(
        &self,
        changes: Vec<InventoryChange>,
    ) -> Result<(), StoreError> {
        let tx = self.pool.begin().await.map_err(error::map)?;
        let tx = Self::write_inventories(tx, &changes).await?;
        tx.commit().await.map_err(error::map)
    }

    /// Writes one aggregate's batch into `tx` and hands the transaction back, so a group commit
    /// can put several aggregates' batches in one transaction. On error `tx` is dropped, which
    /// rolls it back.
    pub(super) async fn write_inventories(
        mut tx: Transaction<'static, Postgres>,
        changes: &[InventoryChange],
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let (Some(plan), Some(last)) = (plan(changes)?, changes.last()) else {
            return Ok(tx);
        };
        let c = &last.counters;
        let write = if plan.expected_version == 0 {
            sqlx::query("INSERT INTO inventory (sku, on_hand, reserved, sold, version) VALUES ($1, $2, $3, $4, $5)")
        } else {
            sqlx::query(
                "UPDATE inventory SET on_hand = $3, reserved = $4, sold = $5, version = $6
                 WHERE version = $1 AND sku = $2",
            )
            .bind(plan.expected_version)
        };
        let write = write
            .bind(last.sku.as_str())
            .bind(to_i64(c.on_hand, "on_hand")?)
            .bind(to_i64(c.reserved, "reserved")?)
            .bind(to_i64(c.sold, "sold")?)
            .bind(plan.version);
        versioned(&plan, write.execute(&mut *tx).await)?;
        upsert_reservations(&mut tx, &plan, changes).await?;
        insert_outbox(&mut tx, &plan).await?;
        Ok(tx)
    }

    pub(super) async fn load_cart_rows(&self, id: CartId) -> Result<Cart, StoreError> {
        let mut tx = self.snapshot_read().await?;
        let row: Option<(Option<uuid::Uuid>, String, Option<uuid::Uuid>, i64)> = sqlx::query_as(
            "SELECT customer_id, status, order_id, version FROM carts WHERE cart_id = $1",
        )
        .bind(uuid(id.as_u128()))
        .fetch_optional(&mut *tx)
        .await
        .map_err(error::map)?;
        let Some((customer_id, status, order_id, version)) = row else {
            return Ok(Cart::new(id));
        };
        let lines: Vec<(String, i64, i64, String)> = sqlx::query_as(
            "SELECT sku, quantity, unit_price_minor, currency FROM cart_lines
             WHERE cart_id = $1 ORDER BY position",
        )
        .bind(uuid(id.as_u128()))
        .fetch_all(&mut *tx)
        .await
        .map_err(error::map)?;
        let lines = lines
            .into_iter()
            .map(|(sku, quantity, unit_price_minor, currency)| CartLineRow {
                sku,
                quantity,
                unit_price_minor,
                currency,
            })
            .collect();
        let row = CartRow {
            customer_id: customer_id.map(|c| c.as_u128()),
            status,
            order_id: order_id.map(|o| o.as_u128()),
            version,
        };
        rows::cart(id, row, lines)
    }

    /// One cart's batch: the group writer with a group of one, so a lone cart and a group are
    /// written by the same statements.
    pub(super) async fn commit_carts(&self, changes: Vec<CartChange>) -> Result<(), StoreError> {
        let tx = self.pool.begin().await.map_err(error::map)?;
        let tx = Self::write_carts_group(tx, std::slice::from_ref(&changes)).await?;
        tx.commit().await.map_err(error::map)
    }
}

/// Turns the result of a version-checked write into the port's answer: a failed insert of a new
/// aggregate that hit an existing row, or an update that matched no row at the expected version,
/// is a conflict.
pub(super) fn versioned(
    plan: &Plan,
    result: Result<PgQueryResult, sqlx::Error>,
) -> Result<(), StoreError> {
    let result = if plan.expected_version == 0 {
        result.map_err(error::map_insert)?
    } else {
        result.map_err(error::map)?
    };
    match result.rows_affected() {
        1 => Ok(()),
        0 => Err(StoreError::Conflict),
        n => Err(StoreError::Other(format!("version check matched {n} rows"))),
    }
}

/// Writes every reservation of the batch in its final state, in one statement.
async fn upsert_reservations(
    tx: &mut PgConnection,
    plan: &Plan,
    changes: &[InventoryChange],
) -> Result<(), StoreError> {
    let reservations = final_reservations(changes);
    if reservations.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(reservations.len());
    let mut quantities = Vec::with_capacity(reservations.len());
    let mut statuses = Vec::with_capacity(reservations.len());
    let mut expires = Vec::with_capacity(reservations.len());
    for r in &reservations {
        ids.push(uuid(r.id().as_u128()));
        quantities.push(i64::from(r.quantity().get()));
        statuses.push(r.status().as_str());
        expires.push(r.expires_at().unix_ms());
    }
    // The WHERE keeps a reservation id from ever moving to another SKU; the row count below
    // turns such a collision into an error instead of a silently missing reservation.
    let result = sqlx::query(
        "INSERT INTO reservations (reservation_id, sku, quantity, status, expires_at, updated_at)
         SELECT u.id, $1, u.quantity, u.status, from_unix_ms(u.expires_ms), from_unix_ms($2)
         FROM UNNEST($3::UUID[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[])
              AS u (id, quantity, status, expires_ms)
         ON CONFLICT (reservation_id) DO UPDATE
         SET quantity = EXCLUDED.quantity, status = EXCLUDED.status,
             expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at
         WHERE reservations.sku = EXCLUDED.sku",
    )
    .bind(&plan.aggregate_id)
    .bind(plan.updated_at_ms)
    .bind(&ids)
    .bind(&quantities)
    .bind(&statuses)
    .bind(&expires)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    expect_rows(result.rows_affected(), reservations.len(), "reservations")
}

/// Appends the batch's events to the outbox, in one statement.
pub(super) async fn insert_outbox(tx: &mut PgConnection, plan: &Plan) -> Result<(), StoreError> {
    insert_outbox_rows(tx, &[plan]).await
}

/// Appends the events of several aggregates' batches to the outbox, in one statement.
pub(super) async fn insert_outbox_rows(
    tx: &mut PgConnection,
    plans: &[&Plan],
) -> Result<(), StoreError> {
    let rows: Vec<(&Plan, &crate::plan::OutboxEntry)> = plans
        .iter()
        .flat_map(|p| p.outbox.iter().map(move |e| (*p, e)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<uuid::Uuid> = rows.iter().map(|(_, e)| uuid(e.event_id)).collect();
    let types: Vec<&str> = rows.iter().map(|(p, _)| p.aggregate_type).collect();
    let aggregates: Vec<&str> = rows.iter().map(|(p, _)| p.aggregate_id.as_str()).collect();
    let sequences: Vec<i64> = rows.iter().map(|(_, e)| e.sequence).collect();
    let events: Vec<&str> = rows.iter().map(|(_, e)| e.event_type).collect();
    let payloads: Vec<&str> = rows.iter().map(|(_, e)| e.payload.as_str()).collect();
    let created: Vec<i64> = rows.iter().map(|(_, e)| e.created_at_ms).collect();
    let result = sqlx::query(
        "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, sequence, event_type,
                             schema_version, payload, created_at)
         SELECT u.id, u.aggregate_type, u.aggregate_id, u.sequence, u.event_type, $8,
                u.payload::JSONB, from_unix_ms(u.created)
         FROM UNNEST($1::UUID[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[],
                     $7::BIGINT[]) AS u (id, aggregate_type, aggregate_id, sequence, event_type,
                                          payload, created)",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&aggregates)
    .bind(&sequences)
    .bind(&events)
    .bind(&payloads)
    .bind(&created)
    .bind(PAYLOAD_SCHEMA_VERSION)
    .execute(&mut *tx)
    .await
    .map_err(error::map)?;
    expect_rows(result.rows_affected(), rows.len(), "outbox rows")
}

/// Asserts a multi-row write wrote every row it was given.
pub(super) fn expect_rows(written: u64, expected: usize, what: &str) -> Result<(), StoreError> {
    if usize::try_from(written).ok() == Some(expected) {
        Ok(())
    } else {
        Err(StoreError::Other(format!(
            "wrote {written} {what} where {expected} were due"
        )))
    }
}
