//! The read models' queries, behind the `actors::ports::ReadModels` port the HTTP edge uses.

use actors::ports::{
    NotificationSummary, OrderPage, OrderSummary, ReadModelError, ReadModels, StoreError,
};
use async_trait::async_trait;
use domain::{Currency, CustomerId, Money, OrderId, SkuCode, Timestamp};
use uuid::Uuid;

use crate::db::Db;

/// Rows one page returns at most, whatever the caller asks.
pub const PAGE_LIMIT_MAX: u32 = 100;

pub struct SqlReadModels {
    db: Db,
}

impl SqlReadModels {
    pub fn new(db: Db) -> Self {
        SqlReadModels { db }
    }
}

/// `<placed_at ms>_<order id>`: the position after which the next page starts.
fn encode_cursor(placed_at_ms: i64, order_id: Uuid) -> String {
    format!("{placed_at_ms}_{}", order_id.simple())
}

fn decode_cursor(s: &str) -> Result<(i64, Uuid), ReadModelError> {
    let (ms, id) = s.split_once('_').ok_or(ReadModelError::InvalidCursor)?;
    let ms = ms.parse().map_err(|_| ReadModelError::InvalidCursor)?;
    let id = Uuid::try_parse(id).map_err(|_| ReadModelError::InvalidCursor)?;
    Ok((ms, id))
}

fn store(e: sqlx::Error) -> ReadModelError {
    ReadModelError::Store(match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Other(other.to_string()),
    })
}

fn corrupt(what: &str) -> ReadModelError {
    ReadModelError::Store(StoreError::Other(format!("corrupt read model: {what}")))
}

/// One `order_views` row with ids as text and instants as unix ms, on either dialect.
type ViewRow = (
    String,
    Option<String>,
    String,
    i64,
    String,
    i64,
    i64,
    i64,
    i64,
);

fn summary(r: ViewRow) -> Result<(OrderSummary, Uuid), ReadModelError> {
    let (order_id, customer, status, total, currency, lines, items, placed, updated) = r;
    let order_uuid = Uuid::parse_str(&order_id).map_err(|_| corrupt("order id"))?;
    let customer_id = customer
        .map(|c| CustomerId::parse(&c).map_err(|_| corrupt("customer id")))
        .transpose()?;
    let currency = Currency::parse(&currency).map_err(|_| corrupt("currency"))?;
    Ok((
        OrderSummary {
            order_id: OrderId::from_u128(order_uuid.as_u128()),
            customer_id,
            status,
            total: Money::new(total, currency).map_err(|_| corrupt("total"))?,
            line_count: u32::try_from(lines).map_err(|_| corrupt("line count"))?,
            item_count: u64::try_from(items).map_err(|_| corrupt("item count"))?,
            placed_at: Timestamp::from_unix_ms(placed),
            updated_at: Timestamp::from_unix_ms(updated),
        },
        order_uuid,
    ))
}

/// A page of at most `limit` of `rows` (which hold one more when another page follows).
fn page(rows: Vec<ViewRow>, limit: u32) -> Result<OrderPage, ReadModelError> {
    let more = rows.len() > limit as usize;
    let mut orders = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in rows.into_iter().take(limit as usize) {
        let (s, id) = summary(row)?;
        last = Some((s.placed_at.unix_ms(), id));
        orders.push(s);
    }
    let next_cursor = if more {
        last.map(|(ms, id)| encode_cursor(ms, id))
    } else {
        None
    };
    Ok(OrderPage {
        orders,
        next_cursor,
    })
}

#[async_trait]
impl ReadModels for SqlReadModels {
    async fn customer_orders(
        &self,
        customer: CustomerId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<OrderPage, ReadModelError> {
        let limit = limit.clamp(1, PAGE_LIMIT_MAX);
        // No cursor: the first page (NULLs make the position condition true).
        let (after_ms, after_id) = match cursor {
            Some(c) => {
                let (ms, id) = decode_cursor(c)?;
                (Some(ms), Some(id))
            }
            None => (None, None),
        };
        let customer = Uuid::from_u128(customer.as_u128());
        // One more than the page, to know whether another page follows.
        let fetch = i64::from(limit) + 1;
        let rows: Vec<ViewRow> = match &self.db {
            Db::Postgres(pool) => sqlx::query_as(
                "SELECT order_id::text, customer_id::text, status, total_minor, currency::text, \
                 line_count::bigint, item_count, unix_ms(placed_at), unix_ms(updated_at) \
                 FROM order_views WHERE customer_id = $1 \
                 AND ($2::bigint IS NULL OR (placed_at, order_id) < (from_unix_ms($2), $3)) \
                 ORDER BY placed_at DESC, order_id DESC LIMIT $4",
            )
            .bind(customer)
            .bind(after_ms)
            .bind(after_id)
            .bind(fetch)
            .fetch_all(pool)
            .await
            .map_err(store)?,
            Db::Sqlite(pool) => sqlx::query_as(
                "SELECT order_id, customer_id, status, total_minor, currency, line_count, \
                 item_count, placed_at, updated_at FROM order_views \
                 WHERE customer_id = $1 AND ($2 IS NULL OR (placed_at, order_id) < ($2, $3)) \
                 ORDER BY placed_at DESC, order_id DESC LIMIT $4",
            )
            .bind(customer.hyphenated().to_string())
            .bind(after_ms)
            .bind(after_id.map(|id| id.hyphenated().to_string()))
            .bind(fetch)
            .fetch_all(pool)
            .await
            .map_err(store)?,
        };
        page(rows, limit)
    }

    async fn sku_orders(
        &self,
        sku: &SkuCode,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<OrderPage, ReadModelError> {
        let limit = limit.clamp(1, PAGE_LIMIT_MAX);
        let (after_ms, after_id) = match cursor {
            Some(c) => {
                let (ms, id) = decode_cursor(c)?;
                (Some(ms), Some(id))
            }
            None => (None, None),
        };
        let fetch = i64::from(limit) + 1;
        let rows: Vec<ViewRow> = match &self.db {
            Db::Postgres(pool) => sqlx::query_as(
                "SELECT v.order_id::text, v.customer_id::text, v.status, v.total_minor, \
                 v.currency::text, v.line_count::bigint, v.item_count, unix_ms(v.placed_at), \
                 unix_ms(v.updated_at) FROM order_view_skus s JOIN order_views v USING (order_id) \
                 WHERE s.sku = $1 \
                 AND ($2::bigint IS NULL OR (s.placed_at, s.order_id) < (from_unix_ms($2), $3)) \
                 ORDER BY s.placed_at DESC, s.order_id DESC LIMIT $4",
            )
            .bind(sku.as_str())
            .bind(after_ms)
            .bind(after_id)
            .bind(fetch)
            .fetch_all(pool)
            .await
            .map_err(store)?,
            Db::Sqlite(pool) => sqlx::query_as(
                "SELECT v.order_id, v.customer_id, v.status, v.total_minor, v.currency, \
                 v.line_count, v.item_count, v.placed_at, v.updated_at \
                 FROM order_view_skus s JOIN order_views v USING (order_id) \
                 WHERE s.sku = $1 AND ($2 IS NULL OR (s.placed_at, s.order_id) < ($2, $3)) \
                 ORDER BY s.placed_at DESC, s.order_id DESC LIMIT $4",
            )
            .bind(sku.as_str())
            .bind(after_ms)
            .bind(after_id.map(|id| id.hyphenated().to_string()))
            .bind(fetch)
            .fetch_all(pool)
            .await
            .map_err(store)?,
        };
        page(rows, limit)
    }

    async fn customer_notifications(
        &self,
        customer: CustomerId,
        limit: u32,
    ) -> Result<Vec<NotificationSummary>, ReadModelError> {
        let limit = i64::from(limit.clamp(1, PAGE_LIMIT_MAX));
        let customer = Uuid::from_u128(customer.as_u128());
        let rows: Vec<(String, String, String, String, i64)> = match &self.db {
            Db::Postgres(pool) => sqlx::query_as(
                "SELECT notification_id::text, order_id::text, kind, message, unix_ms(created_at) \
                 FROM notifications WHERE customer_id = $1 \
                 ORDER BY created_at DESC, notification_id DESC LIMIT $2",
            )
            .bind(customer)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(store)?,
            Db::Sqlite(pool) => sqlx::query_as(
                "SELECT notification_id, order_id, kind, message, created_at \
                 FROM notifications WHERE customer_id = $1 \
                 ORDER BY created_at DESC, notification_id DESC LIMIT $2",
            )
            .bind(customer.hyphenated().to_string())
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(store)?,
        };
        rows.into_iter()
            .map(|(id, order, kind, message, at)| {
                Ok(NotificationSummary {
                    notification_id: Uuid::parse_str(&id)
                        .map_err(|_| corrupt("notification id"))?
                        .as_u128(),
                    order_id: OrderId::parse(&order).map_err(|_| corrupt("order id"))?,
                    kind,
                    message,
                    created_at: Timestamp::from_unix_ms(at),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let id = Uuid::from_u128(42);
        let c = encode_cursor(1_700_000_000_000, id);
        assert_eq!(decode_cursor(&c).ok(), Some((1_700_000_000_000, id)));
        for bad in ["", "x", "12_", "_abc", "12_notauuid"] {
            assert!(matches!(
                decode_cursor(bad),
                Err(ReadModelError::InvalidCursor)
            ));
        }
    }
}
