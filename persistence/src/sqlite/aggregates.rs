//! Loading and committing products, inventory and carts on SQLite. Same statements and checks
//! as the Postgres adapter, in SQLite's dialect.

use actors::ports::{CartChange, InventoryChange, ProductChange, StoreError};
use domain::{Cart, CartId, InventorySku, Product, SkuCode};
use sqlx::sqlite::{SqliteConnection, SqliteQueryResult};
use sqlx::{Sqlite, Transaction};

use super::{id, opt_id, text, SqliteStore};
use crate::convert::to_i64;
use crate::error;
use crate::plan::{final_reservations, plan, Plan, PAYLOAD_SCHEMA_VERSION};
use crate::rows::{self, CartLineRow, CartRow, InventoryRow, ProductRow, ReservationRow};

impl SqliteStore {
    /// A write transaction holding the write lock from its first statement on.
    pub(super) async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(error::map)
    }

    /// A read transaction: under WAL it sees one committed state from its first read on.
    pub(super) async fn read_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin().await.map_err(error::map)
    }

    pub(super) async fn load_product_row(&self, sku: &SkuCode) -> Result<Product, StoreError> {
        let row: Option<(String, i64, String, bool, i64)> = sqlx::query_as(
            "SELECT name, price_minor, currency, active, version FROM products WHERE sku = ?1",
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
        let tx = self.write_tx().await?;
        let tx = Self::write_products(tx, &changes).await?;
        tx.commit().await.map_err(error::map)
    }

    /// Writes one aggregate's batch into `tx` and hands the transaction back, so a group commit
    /// can put several aggregates' batches in one transaction. On error `tx` is dropped, which
    /// rolls it back.
    pub(super) async fn write_products(
        mut tx: Transaction<'static, Sqlite>,
        changes: &[ProductChange],
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        let (Some(plan), Some(last)) = (plan(changes)?, changes.last()) else {
            return Ok(tx);
        };
        let p = &last.product;
        // The update takes the expected version as ?1, so both statements bind the same list
        // after it.
        let write = if plan.expected_version == 0 {
            sqlx::query(
                "INSERT INTO products (sku, name, price_minor, currency, active, version, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
        } else {
            sqlx::query(
                "UPDATE products SET name = ?3, price_minor = ?4, currency = ?5, active = ?6,
                        version = ?7, updated_at = ?8
                 WHERE version = ?1 AND sku = ?2",
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
        let mut tx = self.read_tx().await?;
        let row: Option<(i64, i64, i64, i64)> =
            sqlx::query_as("SELECT on_hand, reserved, sold, version FROM inventory WHERE sku = ?1")
                .bind(sku.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(error::map)?;
        let Some((on_hand, reserved, sold, version)) = row else {
            return Ok(InventorySku::new(sku.clone()));
        };
        let reservations: Vec<(String, i64, String, i64)> = sqlx::query_as(
            "SELECT reservation_id, quantity, status, expires_at
             FROM reservations WHERE sku = ?1 ORDER BY reservation_id",
        )
        .bind(sku.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(error::map)?;
        let reservations = reservations
            .into_iter()
            .map(|(reservation_id, quantity, status, expires_at_ms)| {
                Ok(ReservationRow {
                    reservation_id: id(&reservation_id)?,
                    quantity,
                    status,
                    expires_at_ms,
                })
            })
            .collect::<Result<_, StoreError>>()?;
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
        let tx = self.write_tx().await?;
        let tx = Self::write_inventories(tx, &changes).await?;
        tx.commit().await.map_err(error::map)
    }

    /// Writes one aggregate's batch into `tx` and hands the transaction back, so a group commit
    /// can put several aggregates' batches in one transaction. On error `tx` is dropped, which
    /// rolls it back.
    pub(super) async fn write_inventories(
        mut tx: Transaction<'static, Sqlite>,
        changes: &[InventoryChange],
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        let (Some(plan), Some(last)) = (plan(changes)?, changes.last()) else {
            return Ok(tx);
        };
        let c = &last.counters;
        let write = if plan.expected_version == 0 {
            sqlx::query("INSERT INTO inventory (sku, on_hand, reserved, sold, version) VALUES (?1, ?2, ?3, ?4, ?5)")
        } else {
            sqlx::query(
                "UPDATE inventory SET on_hand = ?3, reserved = ?4, sold = ?5, version = ?6
                 WHERE version = ?1 AND sku = ?2",
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

    pub(super) async fn load_cart_rows(&self, cart_id: CartId) -> Result<Cart, StoreError> {
        let key = text(cart_id.as_u128());
        let mut tx = self.read_tx().await?;
        let row: Option<(Option<String>, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT customer_id, status, order_id, version FROM carts WHERE cart_id = ?1",
        )
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error::map)?;
        let Some((customer_id, status, order_id, version)) = row else {
            return Ok(Cart::new(cart_id));
        };
        let lines: Vec<(String, i64, i64, String)> = sqlx::query_as(
            "SELECT sku, quantity, unit_price_minor, currency FROM cart_lines
             WHERE cart_id = ?1 ORDER BY position",
        )
        .bind(&key)
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
            customer_id: opt_id(customer_id)?,
            status,
            order_id: opt_id(order_id)?,
            version,
        };
        rows::cart(cart_id, row, lines)
    }

    pub(super) async fn commit_carts(&self, changes: Vec<CartChange>) -> Result<(), StoreError> {
        let tx = self.write_tx().await?;
        let tx = Self::write_carts(tx, &changes).await?;
        tx.commit().await.map_err(error::map)
    }

    /// Writes one aggregate's batch into `tx` and hands the transaction back, so a group commit
    /// can put several aggregates' batches in one transaction. On error `tx` is dropped, which
    /// rolls it back.
    pub(super) async fn write_carts(
        mut tx: Transaction<'static, Sqlite>,
        changes: &[CartChange],
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        let (Some(plan), Some(last)) = (plan(changes)?, changes.last()) else {
            return Ok(tx);
        };
        let cart = &last.cart;
        let (status, order_id) = rows::cart_status_columns(cart.status);
        let write = if plan.expected_version == 0 {
            sqlx::query(
                "INSERT INTO carts (cart_id, customer_id, status, order_id, version, updated_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
        } else {
            sqlx::query(
                "UPDATE carts SET customer_id = ?3, status = ?4, order_id = ?5, version = ?6, updated_at = ?7
                 WHERE version = ?1 AND cart_id = ?2",
            )
            .bind(plan.expected_version)
        };
        let write = write
            .bind(text(cart.id.as_u128()))
            .bind(cart.customer.map(|c| text(c.as_u128())))
            .bind(status)
            .bind(order_id.map(text))
            .bind(plan.version)
            .bind(plan.updated_at_ms);
        let write = if plan.expected_version == 0 {
            write.bind(plan.created_at_ms)
        } else {
            write
        };
        versioned(&plan, write.execute(&mut *tx).await)?;
        replace_cart_lines(&mut tx, last).await?;
        insert_outbox(&mut tx, &plan).await?;
        Ok(tx)
    }
}

/// A version-checked write's result as the port's answer; see the Postgres adapter.
pub(super) fn versioned(
    plan: &Plan,
    result: Result<SqliteQueryResult, sqlx::Error>,
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

/// Writes every reservation of the batch in its final state. The WHERE keeps a reservation id
/// from moving to another SKU, and the count check turns that into an error.
async fn upsert_reservations(
    tx: &mut SqliteConnection,
    plan: &Plan,
    changes: &[InventoryChange],
) -> Result<(), StoreError> {
    for r in final_reservations(changes) {
        let result = sqlx::query(
            "INSERT INTO reservations (reservation_id, sku, quantity, status, expires_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (reservation_id) DO UPDATE
             SET quantity = excluded.quantity, status = excluded.status,
                 expires_at = excluded.expires_at, updated_at = excluded.updated_at
             WHERE reservations.sku = excluded.sku",
        )
        .bind(text(r.id().as_u128()))
        .bind(&plan.aggregate_id)
        .bind(i64::from(r.quantity().get()))
        .bind(r.status().as_str())
        .bind(r.expires_at().unix_ms())
        .bind(plan.updated_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
        expect_rows(result.rows_affected(), 1, "reservations")?;
    }
    Ok(())
}

/// Replaces a cart's lines with the batch's final lines (a cart is small: rewrite, not diff).
async fn replace_cart_lines(
    tx: &mut SqliteConnection,
    last: &CartChange,
) -> Result<(), StoreError> {
    let cart_id = text(last.cart.id.as_u128());
    sqlx::query("DELETE FROM cart_lines WHERE cart_id = ?1")
        .bind(&cart_id)
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
    for (position, line) in last.cart.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO cart_lines (cart_id, sku, quantity, unit_price_minor, currency, position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&cart_id)
        .bind(line.sku().as_str())
        .bind(i64::from(line.quantity().get()))
        .bind(line.unit_price().amount_minor())
        .bind(line.unit_price().currency().as_str())
        .bind(to_i64(position as u64, "cart line position")?)
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
    }
    Ok(())
}

/// Appends the batch's events to the outbox.
pub(super) async fn insert_outbox(
    tx: &mut SqliteConnection,
    plan: &Plan,
) -> Result<(), StoreError> {
    for entry in &plan.outbox {
        sqlx::query(
            "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, sequence, event_type,
                                 schema_version, payload, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(text(entry.event_id))
        .bind(plan.aggregate_type)
        .bind(&plan.aggregate_id)
        .bind(entry.sequence)
        .bind(entry.event_type)
        .bind(PAYLOAD_SCHEMA_VERSION)
        .bind(&entry.payload)
        .bind(entry.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(error::map)?;
    }
    Ok(())
}

/// Asserts a write wrote every row it was given.
pub(super) fn expect_rows(written: u64, expected: usize, what: &str) -> Result<(), StoreError> {
    if usize::try_from(written).ok() == Some(expected) {
        Ok(())
    } else {
        Err(StoreError::Other(format!(
            "wrote {written} {what} where {expected} were due"
        )))
    }
}
