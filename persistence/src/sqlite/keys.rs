//! Sagas, idempotency keys, the expiry query and outbox inspection on SQLite.

use actors::ports::{IdempotencyClaim, SagaRecord, StoreError};
use domain::{OrderId, SkuCode, Timestamp};

use super::{id, opt_id, text, SqliteStore};
use crate::convert::{corrupt, now_ms, sku};
use crate::error;
use crate::outbox::{OutboxRow, CLAIM_ATTEMPTS_MAX};
use crate::rows::{self, IdempotencyRow, SagaRow};

type SagaTuple = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

/// The saga columns in `SagaTuple` order; a macro so queries stay `&'static str` literals.
macro_rules! select_sagas {
    ($rest:literal) => {
        concat!(
            "SELECT order_id, cart_id, step, payment_token, failure_reason,
                    started_at, updated_at
             FROM checkout_sagas ",
            $rest
        )
    };
}

fn saga_row(t: SagaTuple) -> Result<SagaRow, StoreError> {
    Ok(SagaRow {
        order_id: id(&t.0)?,
        cart_id: opt_id(t.1)?,
        step: t.2,
        payment_token: t.3,
        failure_reason: t.4,
        started_at_ms: t.5,
        updated_at_ms: t.6,
    })
}

/// request_hash, order_id, status_code, response_body.
type KeyTuple = (String, String, Option<i32>, Option<Vec<u8>>);

impl SqliteStore {
    pub(super) async fn select_one(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(error::map)?;
        Ok(())
    }

    pub(super) async fn expired_skus(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<SkuCode>, StoreError> {
        // Oldest deadline first, so SKUs past the limit are not starved by ones that keep
        // expiring.
        let skus: Vec<(String,)> = sqlx::query_as(
            "SELECT sku FROM reservations
             WHERE status = 'held' AND expires_at <= ?1
             GROUP BY sku ORDER BY min(expires_at), sku LIMIT ?2",
        )
        .bind(now.unix_ms())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(error::map)?;
        skus.iter().map(|(s,)| sku(s)).collect()
    }

    pub(super) async fn upsert_saga(&self, r: &SagaRecord) -> Result<(), StoreError> {
        upsert_saga(&self.pool, r).await
    }

    pub(super) async fn select_saga(
        &self,
        order_id: OrderId,
    ) -> Result<Option<SagaRecord>, StoreError> {
        let row: Option<SagaTuple> = sqlx::query_as(select_sagas!("WHERE order_id = ?1"))
            .bind(text(order_id.as_u128()))
            .fetch_optional(&self.pool)
            .await
            .map_err(error::map)?;
        row.map(|t| rows::saga(saga_row(t)?)).transpose()
    }

    pub(super) async fn select_sagas_in_flight(
        &self,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let rows: Vec<SagaTuple> = sqlx::query_as(select_sagas!(
            "WHERE step NOT IN ('completed', 'failed') ORDER BY started_at, order_id LIMIT ?1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(error::map)?;
        rows.into_iter().map(|t| rows::saga(saga_row(t)?)).collect()
    }

    pub(super) async fn claim_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        order_id: OrderId,
        now: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        // A loser of the insert race reads the winner's row; if the winner released it in
        // between, the key is free again and the claim is retried, a bounded number of times.
        for _ in 0..CLAIM_ATTEMPTS_MAX {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, request_hash, order_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(scope)
            .bind(key)
            .bind(request_hash)
            .bind(text(order_id.as_u128()))
            .bind(now.unix_ms())
            .execute(&self.pool)
            .await
            .map_err(error::map)?;
            if inserted.rows_affected() == 1 {
                return Ok(IdempotencyClaim::Claimed);
            }
            if let Some(row) = self.select_key(scope, key).await? {
                return rows::idempotency_claim(row, request_hash);
            }
        }
        Err(StoreError::Unavailable(
            "idempotency key keeps being claimed and released".to_owned(),
        ))
    }

    async fn select_key(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRow>, StoreError> {
        let row: Option<KeyTuple> = sqlx::query_as(
            "SELECT request_hash, order_id, status_code, response_body
             FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(error::map)?;
        row.map(|(request_hash, order_id, status_code, response_body)| {
            Ok(IdempotencyRow {
                request_hash,
                order_id: id(&order_id)?,
                status_code,
                response_body,
            })
        })
        .transpose()
    }

    pub(super) async fn complete_key(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        // The first response wins: a key is answered once, and replays return that answer.
        let updated = sqlx::query(
            "UPDATE idempotency_keys
             SET status_code = ?3, response_body = ?4, completed_at = ?5
             WHERE scope = ?1 AND key = ?2 AND completed_at IS NULL",
        )
        .bind(scope)
        .bind(key)
        .bind(i32::from(status))
        .bind(body)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(error::map)?;
        if updated.rows_affected() == 1 || self.select_key(scope, key).await?.is_some() {
            return Ok(());
        }
        Err(StoreError::Other(format!(
            "idempotency key {scope}/{key} completed without a claim"
        )))
    }

    pub(super) async fn release_abandoned_keys(&self) -> Result<u64, StoreError> {
        let released = sqlx::query(
            "DELETE FROM idempotency_keys AS k
             WHERE k.completed_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM checkout_sagas AS s WHERE s.order_id = k.order_id)",
        )
        .execute(&self.pool)
        .await
        .map_err(error::map)?;
        Ok(released.rows_affected())
    }

    pub(super) async fn release_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        // A completed key is never released: its answer must keep being replayed.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND completed_at IS NULL",
        )
        .bind(scope)
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(error::map)?;
        Ok(())
    }

    /// The outbox rows of one aggregate, by sequence (for tests and verification tools).
    pub async fn outbox_rows_for(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows: Vec<(String, i64, String, String)> = sqlx::query_as(
            "SELECT event_id, sequence, event_type, payload FROM outbox
             WHERE aggregate_type = ?1 AND aggregate_id = ?2 ORDER BY sequence",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_all(&self.pool)
        .await
        .map_err(error::map)?;
        rows.into_iter()
            .map(|(event_id, sequence, event_type, payload)| {
                Ok(OutboxRow {
                    event_id: id(&event_id)?,
                    sequence,
                    event_type,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| corrupt("outbox payload", e))?,
                })
            })
            .collect()
    }

    /// Rows in the outbox, published or not.
    pub async fn outbox_count(&self) -> Result<u64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(error::map)?;
        crate::convert::to_u64(count, "outbox count")
    }
}

/// Inserts or updates a saga record through any executor: the pool for a lone save, or the
/// transaction of the order change the saga step belongs to.
pub(super) async fn upsert_saga<'e, X>(executor: X, r: &SagaRecord) -> Result<(), StoreError>
where
    X: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    // `started_at` keeps its first value: a saga starts once however often it is saved.
    sqlx::query(
        "INSERT INTO checkout_sagas (order_id, cart_id, step, payment_token, failure_reason,
                                         started_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (order_id) DO UPDATE
             SET cart_id = EXCLUDED.cart_id, step = EXCLUDED.step,
                 payment_token = EXCLUDED.payment_token, failure_reason = EXCLUDED.failure_reason,
                 updated_at = EXCLUDED.updated_at",
    )
    .bind(text(r.order_id.as_u128()))
    .bind(r.cart_id.map(|c| text(c.as_u128())))
    .bind(r.step.as_str())
    .bind(&r.payment_token)
    .bind(&r.failure_reason)
    .bind(r.started_at.unix_ms())
    .bind(r.updated_at.unix_ms())
    .execute(executor)
    .await
    .map_err(error::map)?;
    Ok(())
}
