//! Group commit of idempotency keys on Postgres. Every checkout claims a key before it starts and
//! records its answer when it ends; one statement each would be two fsyncs per checkout. The
//! writer collects the claims and completions that arrive while its previous statement runs and
//! writes them with one multi-row statement each. The rare cases a batch statement cannot settle
//! (a key seen before, a completion without its claim) take the one-key path, which reads the
//! existing row.

use actors::ports::{IdempotencyClaim, StoreError};
use domain::{OrderId, Timestamp};
use sqlx::postgres::PgConnection;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::{uuid, PgStore};
use crate::convert::now_ms;
use crate::error;

/// Upper bound of operations waiting for the writer; callers wait beyond it.
const KEY_QUEUE_MAX: usize = 8192;
/// Upper bound of keys one statement writes.
const KEYS_PER_STATEMENT_MAX: usize = 1024;

pub(super) struct Claim {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
    pub order_id: OrderId,
    pub now: Timestamp,
    pub reply: oneshot::Sender<Result<IdempotencyClaim, StoreError>>,
}

pub(super) struct Completion {
    pub scope: String,
    pub key: String,
    pub status: u16,
    pub body: Vec<u8>,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

pub(super) enum KeyOp {
    Claim(Claim),
    Complete(Completion),
}

/// The queue into the writer task. Cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct KeyWriter {
    queue: mpsc::Sender<KeyOp>,
}

impl KeyWriter {
    /// Starts the writer on the current tokio runtime. It stops when every sender is gone.
    pub(super) fn start(store: PgStore) -> KeyWriter {
        let (queue, ops) = mpsc::channel(KEY_QUEUE_MAX);
        tokio::spawn(write_loop(store, ops));
        KeyWriter { queue }
    }

    pub(super) async fn submit(&self, op: KeyOp) -> Result<(), StoreError> {
        self.queue
            .send(op)
            .await
            .map_err(|_| StoreError::Unavailable("the idempotency key writer has stopped".into()))
    }
}

async fn write_loop(store: PgStore, mut ops: mpsc::Receiver<KeyOp>) {
    let mut waiting = Vec::with_capacity(KEYS_PER_STATEMENT_MAX);
    while ops.recv_many(&mut waiting, KEYS_PER_STATEMENT_MAX).await > 0 {
        let (mut claims, mut completions) = (Vec::new(), Vec::new());
        for op in waiting.drain(..) {
            match op {
                KeyOp::Claim(c) => claims.push(c),
                KeyOp::Complete(c) => completions.push(c),
            }
        }
        // Claims and completions of different requests are independent: one transaction, one
        // fsync, for both.
        match write_both(&store.pool, &claims, &completions).await {
            Ok((inserted, updated)) => {
                settle_claims(&store, claims, inserted).await;
                settle_completions(&store, completions, updated).await;
            }
            Err(e) => {
                for claim in claims {
                    let _ = claim.reply.send(Err(e.clone()));
                }
                for completion in completions {
                    let _ = completion.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

async fn write_both(
    pool: &PgPool,
    claims: &[Claim],
    completions: &[Completion],
) -> Result<(Vec<bool>, Vec<bool>), StoreError> {
    let mut tx = pool.begin().await.map_err(error::map)?;
    let inserted = insert_claims(&mut tx, claims).await?;
    let updated = update_completions(&mut tx, completions).await?;
    tx.commit().await.map_err(error::map)?;
    Ok((inserted, updated))
}

/// Answers each claim: claimed if its row went in, else what the one-key path finds.
async fn settle_claims(store: &PgStore, claims: Vec<Claim>, inserted: Vec<bool>) {
    for (claim, was_inserted) in claims.into_iter().zip(inserted) {
        let answer = if was_inserted {
            Ok(IdempotencyClaim::Claimed)
        } else {
            store
                .claim_key(
                    &claim.scope,
                    &claim.key,
                    &claim.request_hash,
                    claim.order_id,
                    claim.now,
                )
                .await
        };
        let _ = claim.reply.send(answer);
    }
}

/// Answers each completion: done if its row was updated, else what the one-key path finds.
async fn settle_completions(store: &PgStore, completions: Vec<Completion>, updated: Vec<bool>) {
    for (completion, was_updated) in completions.into_iter().zip(updated) {
        let answer = if was_updated {
            Ok(())
        } else {
            store
                .complete_key(
                    &completion.scope,
                    &completion.key,
                    completion.status,
                    &completion.body,
                )
                .await
        };
        let _ = completion.reply.send(answer);
    }
}

/// Inserts every claim whose key is new; returns, per claim, whether it was the one inserted.
/// Two claims of one key in one batch: the first wins, the other reads the winner's row.
async fn insert_claims(tx: &mut PgConnection, claims: &[Claim]) -> Result<Vec<bool>, StoreError> {
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let scopes: Vec<&str> = claims.iter().map(|c| c.scope.as_str()).collect();
    let keys: Vec<&str> = claims.iter().map(|c| c.key.as_str()).collect();
    let hashes: Vec<&str> = claims.iter().map(|c| c.request_hash.as_str()).collect();
    let orders: Vec<uuid::Uuid> = claims.iter().map(|c| uuid(c.order_id.as_u128())).collect();
    let created: Vec<i64> = claims.iter().map(|c| c.now.unix_ms()).collect();
    let inserted: Vec<(String, String, uuid::Uuid)> = sqlx::query_as(
        "INSERT INTO idempotency_keys (scope, key, request_hash, order_id, created_at)
         SELECT u.scope, u.key, u.hash, u.order_id, from_unix_ms(u.created)
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::UUID[], $5::BIGINT[])
              AS u (scope, key, hash, order_id, created)
         ON CONFLICT (scope, key) DO NOTHING
         RETURNING scope, key, order_id",
    )
    .bind(&scopes)
    .bind(&keys)
    .bind(&hashes)
    .bind(&orders)
    .bind(&created)
    .fetch_all(&mut *tx)
    .await
    .map_err(error::map)?;
    // A claim was inserted if its (scope, key, order id) came back: order ids are fresh per
    // request, so a returned row names exactly one claim.
    let won: std::collections::HashSet<(String, String, uuid::Uuid)> =
        inserted.into_iter().collect();
    Ok(claims
        .iter()
        .map(|c| won.contains(&(c.scope.clone(), c.key.clone(), uuid(c.order_id.as_u128()))))
        .collect())
}

/// Records every answer whose key is still open; returns, per completion, whether it did. The
/// first answer wins: a key is answered once and replays return that answer.
async fn update_completions(
    tx: &mut PgConnection,
    completions: &[Completion],
) -> Result<Vec<bool>, StoreError> {
    if completions.is_empty() {
        return Ok(Vec::new());
    }
    let scopes: Vec<&str> = completions.iter().map(|c| c.scope.as_str()).collect();
    let keys: Vec<&str> = completions.iter().map(|c| c.key.as_str()).collect();
    let statuses: Vec<i32> = completions.iter().map(|c| i32::from(c.status)).collect();
    let bodies: Vec<&[u8]> = completions.iter().map(|c| c.body.as_slice()).collect();
    let updated: Vec<(String, String)> = sqlx::query_as(
        "UPDATE idempotency_keys AS k
         SET status_code = u.status, response_body = u.body, completed_at = from_unix_ms($5)
         FROM (SELECT DISTINCT ON (scope, key) * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::INTEGER[], $4::BYTEA[])
               AS v (scope, key, status, body)) AS u
         WHERE k.scope = u.scope AND k.key = u.key AND k.completed_at IS NULL
         RETURNING k.scope, k.key",
    )
    .persistent(false)
    .bind(&scopes)
    .bind(&keys)
    .bind(&statuses)
    .bind(&bodies)
    .bind(now_ms())
    .fetch_all(&mut *tx)
    .await
    .map_err(error::map)?;
    let done: std::collections::HashSet<(String, String)> = updated.into_iter().collect();
    Ok(completions
        .iter()
        .map(|c| done.contains(&(c.scope.clone(), c.key.clone())))
        .collect())
}
