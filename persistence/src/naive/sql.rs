//! The statements of the naive engine's transactions. Each function runs one statement (or one
//! per line of an order) on the caller's transaction; the caller decides the order and commits.

use actors::ports::{Recorded, SagaRecord, StoreError};
use domain::order::OrderSnapshot;
use domain::{OrderId, SkuCode, Timestamp};
use sqlx::postgres::PgConnection;

use super::{KeyClaim, StoredAnswer};
use crate::convert::to_i64;
use crate::error;
use crate::events::Describe;
use crate::plan::PAYLOAD_SCHEMA_VERSION;

fn uuid(v: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(v)
}

/// A key as stored: request_hash, status_code, response_body.
pub(super) type KeyTuple = (String, Option<i32>, Option<Vec<u8>>);

pub(super) async fn select_key(
    conn: &mut PgConnection,
    key: &KeyClaim,
) -> Result<Option<KeyTuple>, StoreError> {
    sqlx::query_as(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys
         WHERE scope = $1 AND key = $2",
    )
    .bind(&key.scope)
    .bind(&key.key)
    .fetch_optional(conn)
    .await
    .map_err(error::map)
}

/// Claims the key and stores its answer in one statement: the naive engine knows a request's
/// answer before it commits, so a key is never seen in progress. `false` when the key exists
/// (a concurrent insert of the same key waits here until its transaction ends).
pub(super) async fn insert_answered_key(
    conn: &mut PgConnection,
    key: &KeyClaim,
    order_id: OrderId,
    answer: &StoredAnswer,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, order_id, status_code,
                                       response_body, created_at, completed_at)
         VALUES ($1, $2, $3, $4, $5, $6, from_unix_ms($7), from_unix_ms($7))
         ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(&key.scope)
    .bind(&key.key)
    .bind(&key.request_hash)
    .bind(uuid(order_id.as_u128()))
    .bind(i32::from(answer.status))
    .bind(&answer.body)
    .bind(now.unix_ms())
    .execute(conn)
    .await
    .map_err(error::map)?;
    Ok(inserted.rows_affected() == 1)
}

/// The order row, its lines and its payment, as the order actor's first commit would write
/// them, but at the order's final version.
pub(super) async fn insert_order(
    conn: &mut PgConnection,
    o: &OrderSnapshot,
    now: Timestamp,
) -> Result<(), StoreError> {
    let version = to_i64(o.version, "order version")?;
    crate::pg::order::insert_order(conn, o, version, now.unix_ms())
        .await
        .map_err(error::map)?;
    crate::pg::order::insert_order_lines(conn, o).await?;
    if let Some(p) = o.payment {
        sqlx::query(
            "INSERT INTO payments (payment_id, order_id, amount_minor, currency, status, updated_at)
             VALUES ($1, $2, $3, $4, $5, from_unix_ms($6))",
        )
        .bind(uuid(p.id().as_u128()))
        .bind(uuid(o.id.as_u128()))
        .bind(p.amount().amount_minor())
        .bind(p.amount().currency().as_str())
        .bind(p.status().as_str())
        .bind(now.unix_ms())
        .execute(conn)
        .await
        .map_err(error::map)?;
    }
    Ok(())
}

/// Inserts or replaces the saga row: a checkout that finishes in one transaction writes its
/// final step directly.
pub(super) async fn upsert_saga(conn: &mut PgConnection, r: &SagaRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO checkout_sagas (order_id, cart_id, step, payment_token, failure_reason,
                                     started_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, from_unix_ms($6), from_unix_ms($7))
         ON CONFLICT (order_id) DO UPDATE
         SET step = EXCLUDED.step, failure_reason = EXCLUDED.failure_reason,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(uuid(r.order_id.as_u128()))
    .bind(r.cart_id.map(|c| uuid(c.as_u128())))
    .bind(r.step.as_str())
    .bind(&r.payment_token)
    .bind(&r.failure_reason)
    .bind(r.started_at.unix_ms())
    .bind(r.updated_at.unix_ms())
    .execute(conn)
    .await
    .map_err(error::map)?;
    Ok(())
}

/// Takes `quantity` units of `sku` off the shelf as sold, under the row lock this UPDATE takes.
/// Two versions per line: the actor engine records a reservation and its commit as two events,
/// and the outbox numbers each event with its own version. `None`: not enough stock (or no
/// inventory row), and nothing changed.
pub(super) async fn take_stock(
    conn: &mut PgConnection,
    sku: &SkuCode,
    quantity: u32,
) -> Result<Option<u64>, StoreError> {
    let version: Option<(i64,)> = sqlx::query_as(
        "UPDATE inventory SET on_hand = on_hand - $2, sold = sold + $2, version = version + 2
         WHERE sku = $1 AND on_hand - reserved >= $2
         RETURNING version",
    )
    .bind(sku.as_str())
    .bind(i64::from(quantity))
    .fetch_optional(conn)
    .await
    .map_err(error::map)?;
    version
        .map(|(v,)| crate::convert::to_u64(v, "inventory version"))
        .transpose()
}

/// Puts sold units back on the shelf (a cancellation): one event, one version.
pub(super) async fn return_stock(
    conn: &mut PgConnection,
    sku: &SkuCode,
    quantity: u32,
) -> Result<u64, StoreError> {
    let (version,): (i64,) = sqlx::query_as(
        "UPDATE inventory SET on_hand = on_hand + $2, sold = sold - $2, version = version + 1
         WHERE sku = $1 AND sold >= $2
         RETURNING version",
    )
    .bind(sku.as_str())
    .bind(i64::from(quantity))
    .fetch_optional(conn)
    .await
    .map_err(error::map)?
    .ok_or_else(|| {
        StoreError::Other(format!(
            "inventory {sku} has fewer sold units than returned"
        ))
    })?;
    crate::convert::to_u64(version, "inventory version")
}

/// One reservation row per line, written in the state the checkout leaves it in.
pub(super) struct ReservationRow<'a> {
    pub id: u128,
    pub sku: &'a str,
    pub quantity: i64,
    pub status: &'static str,
    pub expires_at_ms: i64,
}

pub(super) async fn upsert_reservations(
    conn: &mut PgConnection,
    rows: &[ReservationRow<'_>],
    now: Timestamp,
) -> Result<(), StoreError> {
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| uuid(r.id)).collect();
    let skus: Vec<&str> = rows.iter().map(|r| r.sku).collect();
    let quantities: Vec<i64> = rows.iter().map(|r| r.quantity).collect();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status).collect();
    let expires: Vec<i64> = rows.iter().map(|r| r.expires_at_ms).collect();
    sqlx::query(
        "INSERT INTO reservations (reservation_id, sku, quantity, status, expires_at, updated_at)
         SELECT u.id, u.sku, u.quantity, u.status, from_unix_ms(u.expires_ms), from_unix_ms($1)
         FROM UNNEST($2::UUID[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[])
              AS u (id, sku, quantity, status, expires_ms)
         ON CONFLICT (reservation_id) DO UPDATE
         SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at",
    )
    .bind(now.unix_ms())
    .bind(&ids)
    .bind(&skus)
    .bind(&quantities)
    .bind(&statuses)
    .bind(&expires)
    .execute(conn)
    .await
    .map_err(error::map)?;
    Ok(())
}

/// Outbox rows of several aggregates, gathered so one statement writes them all.
#[derive(Default)]
pub(super) struct Outbox {
    ids: Vec<uuid::Uuid>,
    types: Vec<&'static str>,
    aggregate_ids: Vec<String>,
    sequences: Vec<i64>,
    event_types: Vec<&'static str>,
    payloads: Vec<String>,
    created: Vec<i64>,
}

impl Outbox {
    /// Adds events of one aggregate, encoded exactly as the actor engine's stores encode them.
    pub fn push<E: Describe>(
        &mut self,
        aggregate_type: &'static str,
        aggregate_id: &str,
        events: &[Recorded<E>],
    ) -> Result<(), StoreError> {
        for recorded in events {
            let (event_type, payload) = recorded.event.describe(aggregate_id)?;
            self.ids.push(uuid(recorded.event_id));
            self.types.push(aggregate_type);
            self.aggregate_ids.push(aggregate_id.to_owned());
            self.sequences
                .push(to_i64(recorded.sequence, "event sequence")?);
            self.event_types.push(event_type);
            self.payloads.push(payload);
            self.created.push(recorded.occurred_at.unix_ms());
        }
        Ok(())
    }

    pub async fn insert(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, sequence, event_type,
                                 schema_version, payload, created_at)
             SELECT u.id, u.aggregate_type, u.aggregate_id, u.sequence, u.event_type, $1,
                    u.payload::JSONB, from_unix_ms(u.created_ms)
             FROM UNNEST($2::UUID[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[],
                         $8::BIGINT[])
                  AS u (id, aggregate_type, aggregate_id, sequence, event_type, payload, created_ms)",
        )
        .bind(PAYLOAD_SCHEMA_VERSION)
        .bind(&self.ids)
        .bind(&self.types)
        .bind(&self.aggregate_ids)
        .bind(&self.sequences)
        .bind(&self.event_types)
        .bind(&self.payloads)
        .bind(&self.created)
        .execute(conn)
        .await
        .map_err(error::map)?;
        Ok(())
    }
}
