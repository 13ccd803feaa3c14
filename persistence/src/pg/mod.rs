//! The Postgres adapter.
//!
//! Instants are `TIMESTAMPTZ` columns; the domain's unix milliseconds are converted in SQL
//! (`TIMESTAMPTZ 'epoch' + ms * INTERVAL '1 millisecond'` on the way in,
//! `EXTRACT(EPOCH FROM col) * 1000` on the way out), which is exact at millisecond precision and
//! needs no date-time crate. Multi-row writes bind one array per column and `UNNEST` them, so a
//! batch costs one statement per table however many rows it has.
//!
//! The batch statements that join their arrays to a table (`UPDATE … FROM UNNEST(…)` of orders
//! and idempotency keys) are unnamed (`.persistent(false)`), so Postgres plans each run for the
//! table as it is. A prepared statement switches to a generic plan after five runs and keeps it
//! until the table is next analyzed; made while a table is small (a fresh database, the first
//! minute of a flash sale), that plan joins the batch to a sequential scan, and the update then
//! reads the whole table per batch: ten times the work of the index probes, measured with
//! `pg_stat_statements` (docs/performance.md). Every other statement keeps its cached plan: a
//! multi-row `INSERT … SELECT FROM UNNEST(…)` (with or without `ON CONFLICT`, whose arbiter is
//! always the unique index) has no plan to get wrong, and an unnamed statement costs a second
//! round trip per run (sqlx parses and describes it, then binds and executes it), which on the
//! checkout's critical path is latency every buyer waits for. Single-row statements, and the one
//! order's lines the naive-sql baseline shares (`order::insert_order_lines`), keep their cached
//! plans too: planning them afresh would only slow them, and the baseline plans under its hot
//! row's lock.

mod accounts;
mod aggregates;
mod cart_group;
mod key_writer;
mod keys;
pub(crate) mod order;
mod order_group;

use std::time::Duration;

use actors::ports::{
    AccountCreated, AccountRecord, AccountStore, CartChange, IdempotencyClaim, InventoryChange,
    OrderChange, ProductChange, SagaRecord, SessionRecord, Store, StoreError,
};
use domain::{
    Cart, CartId, CustomerId, Email, InventorySku, Order, OrderId, Product, SkuCode, Timestamp,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Executor;

use crate::config::PoolConfig;
use crate::error;
use key_writer::{Claim, Completion, KeyOp, KeyWriter};

/// A `Store` on Postgres. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct PgStore {
    /// Bounded by `PoolConfig::max_connections`; every method takes one connection for one
    /// statement or one transaction and returns it.
    pool: PgPool,
    /// Batches idempotency-key writes; `None` inside the writer itself, which uses the one-key
    /// statements for what a batch cannot settle.
    keys: Option<KeyWriter>,
}

impl PgStore {
    /// Connects, checks the database answers, and brings its schema up to date.
    pub async fn connect(url: &str, cfg: &PoolConfig) -> Result<PgStore, StoreError> {
        let pool = pool_options(cfg).connect(url).await.map_err(error::map)?;
        migrations::POSTGRES
            .run(&pool)
            .await
            .map_err(error::map_migrate)?;
        // The URL is not logged: it may carry a password.
        tracing::info!(
            max_connections = cfg.max_connections,
            "postgres store ready, schema migrated"
        );
        let keys = KeyWriter::start(PgStore {
            pool: pool.clone(),
            keys: None,
        });
        Ok(PgStore {
            pool,
            keys: Some(keys),
        })
    }

    /// The pool, for operational queries (the outbox relay) that are not part of the port.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Brings the schema at `url` up to date without keeping a pool (for a `migrate` command).
pub async fn migrate_postgres(url: &str) -> Result<(), StoreError> {
    let store = PgStore::connect(
        url,
        &PoolConfig {
            max_connections: 1,
            ..PoolConfig::default()
        },
    )
    .await?;
    store.pool.close().await;
    Ok(())
}

fn pool_options(cfg: &PoolConfig) -> PgPoolOptions {
    let statement_timeout_ms = timeout_setting(cfg.statement_timeout);
    PgPoolOptions::new()
        .max_connections(
            cfg.max_connections
                .clamp(1, PoolConfig::MAX_CONNECTIONS_MAX),
        )
        .acquire_timeout(cfg.acquire_timeout)
        // A ping before every acquire is a round trip per statement's worth of work; a broken
        // connection surfaces as an IO error on use instead, which maps to `Unavailable`.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            let statement_timeout_ms = statement_timeout_ms.clone();
            Box::pin(async move {
                // Set per session, not per role, so the bound holds whatever the database's
                // defaults are; `set_config` because `SET` takes no bind parameters.
                let set = sqlx::query("SELECT set_config('statement_timeout', $1, false)")
                    .bind(statement_timeout_ms);
                conn.execute(set).await.map(|_| ())
            })
        })
}

/// The `statement_timeout` setting in milliseconds; zero would mean "no limit", so at least 1.
fn timeout_setting(timeout: Duration) -> String {
    timeout.as_millis().max(1).to_string()
}

/// One unit of `uuid` conversions: ids are `u128` in the domain and `UUID` here.
fn uuid(v: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(v)
}

#[async_trait::async_trait]
impl AccountStore for PgStore {
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
impl Store for PgStore {
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
            self.pool.begin().await.map_err(error::map)?,
            batches,
            PgStore::write_products,
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
            self.pool.begin().await.map_err(error::map)?,
            batches,
            PgStore::write_inventories,
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
            self.pool.begin().await.map_err(error::map)?,
            batches,
            all PgStore::write_carts_group,
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
            self.pool.begin().await.map_err(error::map)?,
            batches,
            all PgStore::write_orders_group,
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
        let Some(keys) = &self.keys else {
            return self
                .claim_key(scope, key, request_hash, order_id, now)
                .await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let claim = Claim {
            scope: scope.to_owned(),
            key: key.to_owned(),
            request_hash: request_hash.to_owned(),
            order_id,
            now,
            reply,
        };
        keys.submit(KeyOp::Claim(claim)).await?;
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Other("the key writer dropped a claim".into())))
    }

    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let Some(keys) = &self.keys else {
            return self.complete_key(scope, key, status, body).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let completion = Completion {
            scope: scope.to_owned(),
            key: key.to_owned(),
            status,
            body: body.to_vec(),
            reply,
        };
        keys.submit(KeyOp::Complete(completion)).await?;
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Other(
                "the key writer dropped a completion".into(),
            ))
        })
    }

    async fn release_abandoned_idempotency_keys(&self) -> Result<u64, StoreError> {
        self.release_abandoned_keys().await
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.release_key(scope, key).await
    }
}
