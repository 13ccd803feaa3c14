//! Gathering the books: the API's view (inventory, replays, orders) and, when a database URL is
//! given, the store's rows, read-only. Rows are filtered to this run (its SKUs, its keys and the
//! orders they lead to) so an older run in the same database does not blur the verdict.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::FromRow;

use super::*;
use crate::client::{buy_now_body, checkout_body, Api};
use crate::limits::{API_ORDER_CHECKS_MAX, REPLAY_SAMPLE_MAX, SETUP_CONCURRENCY_MAX};
use crate::scenario::{id_of, CatalogItem, ReplayTarget, Tally, TallyEntry};

/// How verification runs.
#[derive(Clone, Debug)]
pub struct VerifyConfig {
    /// Longest wait for a publishing relay to drain the outbox after the run.
    pub outbox_drain_timeout: Duration,
    /// `postgres://…` or `sqlite://…`; None = API-only checks (store checks SKIP).
    pub database_url: Option<String>,
    /// Longest wait for in-flight sagas to finish and reservations to drain after the run.
    pub settle_timeout: Duration,
    pub saga_stuck_after_ms: i64,
    pub replay_sample: usize,
}

/// A read-only connection to either store. Both have the same tables; SQL differs only in casts.
enum Store {
    Pg(PgPool),
    Sqlite(SqlitePool),
}

impl Store {
    async fn open(url: &str) -> anyhow::Result<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Pg(
                PgPoolOptions::new().max_connections(2).connect(url).await?,
            ))
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?.read_only(true);
            Ok(Store::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts)
                    .await?,
            ))
        } else {
            anyhow::bail!("database URL must start with postgres:// or sqlite:")
        }
    }

    async fn rows<T>(&self, pg_sql: &str, sqlite_sql: &str) -> anyhow::Result<Vec<T>>
    where
        T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
    {
        Ok(match self {
            Store::Pg(p) => sqlx::query_as::<_, T>(pg_sql).fetch_all(p).await?,
            Store::Sqlite(p) => sqlx::query_as::<_, T>(sqlite_sql).fetch_all(p).await?,
        })
    }

    async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        let rows: Vec<(i64,)> = self.rows(sql, sql).await?;
        Ok(rows.first().map(|r| r.0).unwrap_or(0))
    }

    async fn close(self) {
        match self {
            Store::Pg(p) => p.close().await,
            Store::Sqlite(p) => p.close().await,
        }
    }
}

const PUBLISHED_SQL: &str = "SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL";
const UNPUBLISHED_SQL: &str = "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL";
const OPEN_SAGAS_SQL: &str =
    "SELECT COUNT(*) FROM checkout_sagas WHERE step NOT IN ('completed', 'failed')";

/// Stop waiting for the outbox when it has not shrunk for this long: the relay is stalled.
/// Longer than a few relay cycles under load, shorter than its 60 s claim lease.
const OUTBOX_STALL: Duration = Duration::from_secs(15);

/// What settling found.
#[derive(Clone, Debug, Default)]
pub struct Settled {
    /// No saga open and no unit reserved before the settle timeout.
    pub settled: bool,
    /// How the outbox drained, when a relay is publishing; shown with the outbox check.
    pub outbox_note: String,
}

/// Waits until no saga is open and no unit is reserved, or the timeout passes; then, if a relay
/// has published anything, waits for the outbox to drain while it keeps shrinking, up to
/// `outbox_timeout`. Verification goes on either way: the checks judge what is left.
pub async fn settle(
    api: &Api,
    catalog: &[CatalogItem],
    database_url: Option<&str>,
    timeout: Duration,
    outbox_timeout: Duration,
) -> Settled {
    let deadline = tokio::time::Instant::now() + timeout;
    let store = match database_url {
        Some(u) => Store::open(u).await.ok(),
        None => None,
    };
    let settled = loop {
        let sagas_open = match &store {
            Some(s) => s.count(OPEN_SAGAS_SQL).await.unwrap_or(1),
            None => 0,
        };
        let reserved: i64 = api_inventory(api, catalog)
            .await
            .iter()
            .map(|r| r.reserved)
            .sum();
        if sagas_open == 0 && reserved == 0 {
            break true;
        }
        if tokio::time::Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut outbox_note = String::new();
    if let Some(s) = store {
        if s.count(PUBLISHED_SQL).await.unwrap_or(0) > 0 {
            outbox_note = drain_outbox(&s, outbox_timeout).await;
        }
        s.close().await;
    }
    Settled {
        settled,
        outbox_note,
    }
}

/// Polls the unpublished count until it is zero, stops shrinking for OUTBOX_STALL, or
/// `timeout` passes; returns a sentence on what happened.
async fn drain_outbox(store: &Store, timeout: Duration) -> String {
    let started = tokio::time::Instant::now();
    let first = store.count(UNPUBLISHED_SQL).await.unwrap_or(-1);
    let (mut last, mut last_progress) = (first, started);
    loop {
        let now = tokio::time::Instant::now();
        if last <= 0 || now - started >= timeout || now - last_progress >= OUTBOX_STALL {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let n = store.count(UNPUBLISHED_SQL).await.unwrap_or(last);
        if n < last {
            last_progress = tokio::time::Instant::now();
        }
        last = n;
    }
    let waited_s = started.elapsed().as_secs_f64();
    let rate = crate::stats::per_second((first - last).max(0) as u64, waited_s);
    format!("after the run {first} unpublished; {last} after waiting {waited_s:.1} s (relay drained {rate:.0}/s)")
}

/// Reads everything the checks need.
pub async fn collect(
    api: &Api,
    catalog: &[CatalogItem],
    key_prefix: &str,
    tally: &Tally,
    cfg: &VerifyConfig,
) -> Books {
    let stock_given: BTreeMap<String, i64> = catalog
        .iter()
        .map(|c| (c.sku.clone(), i64::try_from(c.stock).unwrap_or(i64::MAX)))
        .collect();
    let (store, store_missing_reason) = match &cfg.database_url {
        None => (None, "--database-url not given".to_string()),
        Some(url) => match read_store(url, &stock_given, key_prefix).await {
            Ok(s) => (Some(s), String::new()),
            Err(e) => (None, format!("reading the store failed: {e:#}")),
        },
    };
    Books {
        api_inventory: api_inventory(api, catalog).await,
        store,
        store_missing_reason,
        tally: tally
            .entries
            .iter()
            .map(|e| Acknowledged {
                key: e.key.clone(),
                status: e.status,
                order_id: e.order_id.clone(),
            })
            .collect(),
        tally_dropped: tally.dropped,
        replays: replay_sample(
            api,
            &tally.entries,
            cfg.replay_sample.min(REPLAY_SAMPLE_MAX),
        )
        .await,
        api_orders: api_orders(api, &tally.entries).await,
        saga_stuck_after_ms: cfg.saga_stuck_after_ms,
        outbox_note: String::new(),
        stock_given,
    }
}

fn stock_row(sku: &str, body: &serde_json::Value) -> Option<StockRow> {
    let n = |f: &str| body.get(f).and_then(serde_json::Value::as_i64);
    Some(StockRow {
        sku: sku.to_string(),
        on_hand: n("on_hand")?,
        reserved: n("reserved")?,
        available: n("available")?,
        sold: n("sold")?,
    })
}

/// `GET /v1/inventory/{sku}` for every SKU; unreadable ones are left out (a check flags them).
pub async fn api_inventory(api: &Api, catalog: &[CatalogItem]) -> Vec<StockRow> {
    futures::stream::iter(catalog.iter())
        .map(|c| async move {
            match api.inventory(&c.sku).await {
                Ok(a) if a.is_success() => stock_row(&c.sku, &a.body),
                _ => None,
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY_MAX)
        .filter_map(|r| async move { r })
        .collect()
        .await
}

/// Up to `n` elements evenly spaced over `items`, so a sample spans the whole run, not just
/// its start.
fn spread<T>(items: &[T], n: usize) -> impl Iterator<Item = &T> {
    let len = items.len();
    let take = n.min(len);
    (0..take).map(move |k| &items[k * len / take])
}

/// Sends a sample of answered checkouts again, same key, same body, and records what came back.
async fn replay_sample(api: &Api, entries: &[TallyEntry], n: usize) -> Vec<ReplayRow> {
    // Only final answers are stored with their key and replayed byte for byte. A 503 shed
    // before the order existed released its key, so sending it again is a retry that may
    // rightly place the order; a transport failure has no first answer to compare.
    let answered: Vec<&TallyEntry> = entries
        .iter()
        .filter(|e| matches!(e.status, Some(201 | 402 | 409)))
        .collect();
    let sample: Vec<&&TallyEntry> = spread(&answered, n).collect();
    futures::stream::iter(sample)
        .map(|e| async move {
            let (path, body) = match &e.target {
                ReplayTarget::BuyNow { lines, token } => {
                    ("/v1/orders".to_string(), buy_now_body(lines, token))
                }
                ReplayTarget::Checkout { cart_id, token } => (
                    format!("/v1/carts/{cart_id}/checkout"),
                    checkout_body(token),
                ),
            };
            let answer = api
                .send(
                    reqwest::Method::POST,
                    &path,
                    Some(&body),
                    Some(&e.key),
                    false,
                )
                .await
                .ok();
            ReplayRow {
                key: e.key.clone(),
                first_status: e.status.unwrap_or(0),
                first_order: e.order_id.clone(),
                replay_status: answer.as_ref().map(|a| a.status),
                replay_order: answer.as_ref().and_then(|a| id_of(&a.body)),
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY_MAX)
        .collect()
        .await
}

/// Reads a sample of acknowledged orders back through the API.
async fn api_orders(api: &Api, entries: &[TallyEntry]) -> Vec<ApiOrderRow> {
    let acked: Vec<&str> = entries
        .iter()
        .filter(|e| e.status == Some(201))
        .filter_map(|e| e.order_id.as_deref())
        .collect();
    let sample: Vec<&&str> = spread(&acked, API_ORDER_CHECKS_MAX).collect();
    futures::stream::iter(sample)
        .map(|id| async move {
            let a = api.get(&format!("/v1/orders/{id}")).await.ok();
            ApiOrderRow {
                order_id: id.to_string(),
                http_status: a.as_ref().map(|a| a.status),
                status: a
                    .as_ref()
                    .and_then(|a| a.str_field("status"))
                    .map(str::to_owned),
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY_MAX)
        .collect()
        .await
}

fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn read_store(
    url: &str,
    skus: &BTreeMap<String, i64>,
    key_prefix: &str,
) -> anyhow::Result<StoreBooks> {
    let store = Store::open(url).await?;
    let result = read_tables(&store, skus, key_prefix).await;
    store.close().await;
    result
}

async fn read_tables(
    store: &Store,
    skus: &BTreeMap<String, i64>,
    key_prefix: &str,
) -> anyhow::Result<StoreBooks> {
    let ours = |sku: &str| skus.contains_key(sku);
    let inventory: Vec<(String, i64, i64, i64)> = store
        .rows(
            "SELECT sku, on_hand, reserved, sold FROM inventory",
            "SELECT sku, on_hand, reserved, sold FROM inventory",
        )
        .await?;
    let lines: Vec<(String, String, i64)> = store
        .rows(
            "SELECT order_id::text, sku, quantity FROM order_lines",
            "SELECT order_id, sku, quantity FROM order_lines",
        )
        .await?;
    let keys: Vec<(String, String, String, Option<i64>)> = store
        .rows(
            "SELECT scope, key, order_id::text, status_code::bigint FROM idempotency_keys",
            "SELECT scope, key, order_id, status_code FROM idempotency_keys",
        )
        .await?;
    let key_prefix_dash = format!("{key_prefix}-");
    let keys: Vec<KeyRow> = keys
        .into_iter()
        .filter(|k| k.1.starts_with(&key_prefix_dash))
        .map(|(scope, key, order_id, status_code)| KeyRow {
            scope,
            key,
            order_id,
            status_code,
        })
        .collect();
    // This run's orders: those with a line on its SKUs, and those its keys point at.
    let mut order_ids: HashSet<String> = lines
        .iter()
        .filter(|l| ours(&l.1))
        .map(|l| l.0.clone())
        .collect();
    order_ids.extend(keys.iter().map(|k| k.order_id.clone()));
    let orders: Vec<(String, String)> = store
        .rows(
            "SELECT order_id::text, status FROM orders",
            "SELECT order_id, status FROM orders",
        )
        .await?;
    let reservations: Vec<(String, String, i64, String)> = store
        .rows(
            "SELECT reservation_id::text, sku, quantity, status FROM reservations",
            "SELECT reservation_id, sku, quantity, status FROM reservations",
        )
        .await?;
    let payments: Vec<(String, String)> = store
        .rows(
            "SELECT order_id::text, status FROM payments",
            "SELECT order_id, status FROM payments",
        )
        .await?;
    let sagas: Vec<(String, String, i64)> = store
        .rows(
            "SELECT order_id::text, step, (EXTRACT(EPOCH FROM updated_at) * 1000)::bigint FROM checkout_sagas",
            "SELECT order_id, step, updated_at FROM checkout_sagas",
        )
        .await?;
    let now = now_unix_ms();
    Ok(StoreBooks {
        inventory: inventory
            .into_iter()
            .filter(|r| ours(&r.0))
            .map(|(sku, on_hand, reserved, sold)| StockRow {
                sku,
                on_hand,
                reserved,
                available: on_hand - reserved,
                sold,
            })
            .collect(),
        orders: orders
            .into_iter()
            .filter(|o| order_ids.contains(&o.0))
            .map(|(order_id, status)| OrderRow { order_id, status })
            .collect(),
        lines: lines
            .into_iter()
            .filter(|l| order_ids.contains(&l.0))
            .map(|(order_id, sku, quantity)| LineRow {
                order_id,
                sku,
                quantity,
            })
            .collect(),
        reservations: reservations
            .into_iter()
            .filter(|r| ours(&r.1))
            .map(|(reservation_id, sku, quantity, status)| ReservationRow {
                reservation_id,
                sku,
                quantity,
                status,
            })
            .collect(),
        payments: payments
            .into_iter()
            .filter(|p| order_ids.contains(&p.0))
            .map(|(order_id, status)| PaymentRow { order_id, status })
            .collect(),
        sagas: sagas
            .into_iter()
            .filter(|g| order_ids.contains(&g.0))
            .map(|(order_id, step, updated_ms)| SagaRow {
                order_id,
                step,
                age_ms: now - updated_ms,
            })
            .collect(),
        keys,
        outbox_published: store.count(PUBLISHED_SQL).await?,
        outbox_unpublished: store.count(UNPUBLISHED_SQL).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_samples_across_the_whole_list() {
        let v: Vec<u32> = (0..100).collect();
        let s: Vec<u32> = spread(&v, 10).copied().collect();
        assert_eq!(s, vec![0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
        assert_eq!(spread(&v, 40).count(), 40);
        assert_eq!(spread(&v, 1_000).count(), 100);
        assert_eq!(spread(&v, 0).count(), 0);
        assert_eq!(spread::<u32>(&[], 5).count(), 0);
    }
}
