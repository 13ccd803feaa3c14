//! The SQLite adapter: one database file, for development, tests and single-node deployments.
//!
//! Durability: WAL with `synchronous = FULL` syncs the log on every commit, so a commit the store
//! acknowledged survives `kill -9` and power loss. Writers serialise on SQLite's single write lock;
//! commits take it up front (`BEGIN IMMEDIATE`) so two writers never deadlock upgrading a read
//! lock, and wait for it up to `busy_timeout`. Multi-row writes run one prepared statement per
//! row inside the transaction: with no network round trip, that costs what one statement would.

mod accounts;
mod aggregates;
mod keys;
mod order;

use std::path::Path;

use actors::ports::{
    AccountCreated, AccountRecord, AccountStore, CartChange, IdempotencyClaim, InventoryChange,
    OrderChange, ProductChange, SagaRecord, SessionRecord, Store, StoreError,
};
use domain::{
    Cart, CartId, CustomerId, Email, InventorySku, Order, OrderId, Product, SkuCode, Timestamp,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::PoolConfig;
use crate::convert::corrupt;
use crate::error;

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "commerce.db";

/// A `Store` on one SQLite file. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// Bounded by `PoolConfig::max_connections`. Readers run in parallel under WAL; writers
    /// queue on the database's write lock, not on the pool.
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `data_dir/commerce.db` and brings its schema up to date.
    pub async fn open(data_dir: &Path, cfg: &PoolConfig) -> Result<SqliteStore, StoreError> {
        tokio::fs::create_dir_all(data_dir).await.map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(cfg.statement_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(
                cfg.max_connections
                    .clamp(1, PoolConfig::MAX_CONNECTIONS_MAX),
            )
            .acquire_timeout(cfg.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(error::map)?;
        migrations::SQLITE
            .run(&pool)
            .await
            .map_err(error::map_migrate)?;
        tracing::info!(data_dir = %data_dir.display(), "sqlite store ready, schema migrated");
        Ok(SqliteStore { pool })
    }

    /// The pool, for operational queries that are not part of the port.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// A `u128` id as stored: the lowercase hyphenated UUID, as the domain ids print.
fn text(v: u128) -> String {
    uuid::Uuid::from_u128(v).hyphenated().to_string()
}

/// A stored UUID back to its `u128`.
fn id(s: &str) -> Result<u128, StoreError> {
    uuid::Uuid::parse_str(s)
        .map(|u| u.as_u128())
        .map_err(|e| corrupt("uuid", e))
}

fn opt_id(s: Option<String>) -> Result<Option<u128>, StoreError> {
    s.as_deref().map(id).transpose()
}

#[async_trait::async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, account: &AccountRecord) -> Result<AccountCreated, StoreError> {
        self.insert_account(account).await
    }

    async fn account_by_email(&self, email: &Email) -> Result<Option<AccountRecord>, StoreError> {
        self.select_account_by_email(email).await
    }

    async fn account(&self, customer: CustomerId) -> Result<Option<AccountRecord>, StoreError> {
        self.select_account(customer).await
    }

    async fn create_session(
        &self,
        session: &SessionRecord,
        per_account_max: u32,
    ) -> Result<(), StoreError> {
        self.insert_session(session, per_account_max).await
    }

    async fn session(
        &self,
        token_digest: &str,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.select_session(token_digest, now).await
    }

    async fn delete_session(&self, token_digest: &str) -> Result<(), StoreError> {
        self.remove_session(token_digest).await
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.select_one().await
    }

    async fn load_product(&self, sku: &SkuCode) -> Result<Product, StoreError> {
        self.load_product_row(sku).await
    }

    async fn commit_product(&self, changes: Vec<ProductChange>) -> Result<(), StoreError> {
        self.commit_products(changes).await
    }

    async fn commit_products_many(
        &self,
        batches: Vec<Vec<ProductChange>>,
    ) -> Vec<Result<(), StoreError>> {
        crate::group::group_commit!(
            self,
            self.write_tx().await?,
            batches,
            SqliteStore::write_products,
            commit_products
        )
    }

    async fn load_inventory(&self, sku: &SkuCode) -> Result<InventorySku, StoreError> {
        self.load_inventory_rows(sku).await
    }

    async fn commit_inventory(&self, changes: Vec<InventoryChange>) -> Result<(), StoreError> {
        self.commit_inventories(changes).await
    }

    async fn commit_inventory_many(
        &self,
        batches: Vec<Vec<InventoryChange>>,
    ) -> Vec<Result<(), StoreError>> {
        crate::group::group_commit!(
            self,
            self.write_tx().await?,
            batches,
            SqliteStore::write_inventories,
            commit_inventories
        )
    }

    async fn skus_with_expired_reservations(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<SkuCode>, StoreError> {
        self.expired_skus(now, limit).await
    }

    async fn load_cart(&self, id: CartId) -> Result<Cart, StoreError> {
        self.load_cart_rows(id).await
    }

    async fn commit_cart(&self, changes: Vec<CartChange>) -> Result<(), StoreError> {
        self.commit_carts(changes).await
    }

    async fn commit_carts_many(
        &self,
        batches: Vec<Vec<CartChange>>,
    ) -> Vec<Result<(), StoreError>> {
        crate::group::group_commit!(
            self,
            self.write_tx().await?,
            batches,
            SqliteStore::write_carts,
            commit_carts
        )
    }

    async fn load_order(&self, id: OrderId) -> Result<Order, StoreError> {
        self.load_order_rows(id).await
    }

    async fn commit_order(&self, changes: Vec<OrderChange>) -> Result<(), StoreError> {
        self.commit_orders(changes).await
    }

    async fn commit_orders_many(
        &self,
        batches: Vec<Vec<OrderChange>>,
    ) -> Vec<Result<(), StoreError>> {
        crate::group::group_commit!(
            self,
            self.write_tx().await?,
            batches,
            SqliteStore::write_orders,
            commit_orders
        )
    }

    async fn save_saga(&self, record: &SagaRecord) -> Result<(), StoreError> {
        self.upsert_saga(record).await
    }

    async fn load_saga(&self, order_id: OrderId) -> Result<Option<SagaRecord>, StoreError> {
        self.select_saga(order_id).await
    }

    async fn sagas_in_flight(&self, limit: u32) -> Result<Vec<SagaRecord>, StoreError> {
        self.select_sagas_in_flight(limit).await
    }

    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        order_id: OrderId,
        now: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        self.claim_key(scope, key, request_hash, order_id, now)
            .await
    }

    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        self.complete_key(scope, key, status, body).await
    }

    async fn release_abandoned_idempotency_keys(&self) -> Result<u64, StoreError> {
        self.release_abandoned_keys().await
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.release_key(scope, key).await
    }
}
