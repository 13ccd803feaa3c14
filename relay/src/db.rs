//! SQL of the relay and the consumers, for both dialects, over the pools the stores expose.
//!
//! Claiming on Postgres (see `pg_claim`): from a window of the oldest unleased unpublished
//! rows, a transaction locks the *heads* — each aggregate's lowest unpublished row, when it has
//! no live lease — with `FOR UPDATE SKIP LOCKED`, then leases them together with the rows that
//! follow them in their aggregate, in sequence order, up to the batch bound. A relay thus owns a
//! prefix of an aggregate's unpublished rows, starting at the oldest, or none of them: any other
//! relay sees either a leased head or an earlier unpublished row and leaves the aggregate alone,
//! which is what keeps per-aggregate order with several relays.
//!
//! SQLite has no `SKIP LOCKED`; the same selection runs as one statement inside a `BEGIN
//! IMMEDIATE` transaction, which holds the database's single write lock, so claims are
//! serialised and the same lease rules apply. SQLite is a single-process store and normally
//! runs one relay loop.

use sqlx::{PgPool, Postgres, Row, Sqlite, SqlitePool, Transaction};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

use crate::envelope::Envelope;

/// The database the runtime's store uses.
#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// One transaction on either dialect, for consumer side effects.
pub enum Tx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

/// A database failure, as text: the relay and the consumers only log and retry.
pub type DbResult<T> = Result<T, sqlx::Error>;

/// The relay's figures that come from the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub pending: u64,
    /// Age of the oldest unpublished row, in milliseconds (0 when none).
    pub lag_ms: u64,
}

const PG_COLUMNS: &str = "event_id, aggregate_type, aggregate_id, sequence, event_type, \
     schema_version, payload::text AS payload, unix_ms(created_at) AS created_ms";
const SQLITE_COLUMNS: &str = "event_id, aggregate_type, aggregate_id, sequence, event_type, \
     schema_version, payload, created_at AS created_ms";

/// The heads-then-prefix selection as one statement, for SQLite (Postgres does the same
/// selection in steps, see `pg_claim`); `{now}` is "now" in the lease unit.
///
/// Of the heads' aggregates' unpublished rows, the oldest go first (by commit time, whatever
/// their aggregate): first in, first out, so neither a hot aggregate nor a crowd of cold ones
/// waits behind the other, and the relay's lag is the age of what it has not reached. (Taking
/// every aggregate's first row, then every second one, as an earlier version did, let a flash
/// sale's many orders hold its hot SKU to one event per batch.) Each aggregate still gets only
/// a prefix of its unpublished rows: rows after a gap in what the bound took (possible only if
/// commit times went backwards) are left for the next batch.
fn claim_sql(now: &str) -> String {
    format!(
        "WITH heads AS ( \
           SELECT o.aggregate_type, o.aggregate_id, o.sequence FROM outbox o \
           WHERE (o.aggregate_type, o.aggregate_id, o.sequence) IN ( \
               SELECT w.aggregate_type, w.aggregate_id, (SELECT min(e.sequence) FROM outbox e \
                   WHERE e.published_at IS NULL AND e.aggregate_type = w.aggregate_type \
                     AND e.aggregate_id = w.aggregate_id) \
               FROM (SELECT DISTINCT c.aggregate_type, c.aggregate_id FROM ( \
                   SELECT aggregate_type, aggregate_id FROM outbox WHERE published_at IS NULL \
                     AND (lease_until IS NULL OR lease_until < {now}) \
                   ORDER BY created_at LIMIT $1 * {HEAD_CANDIDATES_PER_ROW}) c) w) \
             AND o.published_at IS NULL \
             AND (o.lease_until IS NULL OR o.lease_until < {now}) \
           ORDER BY o.created_at LIMIT $1), \
         ranked AS ( \
           SELECT o.event_id, o.aggregate_type, o.aggregate_id, o.created_at, row_number() OVER ( \
               PARTITION BY o.aggregate_type, o.aggregate_id ORDER BY o.sequence) AS rank \
           FROM outbox o \
           JOIN heads h ON h.aggregate_type = o.aggregate_type AND h.aggregate_id = o.aggregate_id \
           WHERE o.published_at IS NULL AND o.sequence < h.sequence + $1), \
         oldest AS (SELECT event_id, aggregate_type, aggregate_id, rank FROM ranked \
           ORDER BY created_at, rank LIMIT $1), \
         picked AS (SELECT event_id FROM ( \
           SELECT event_id, rank, row_number() OVER ( \
               PARTITION BY aggregate_type, aggregate_id ORDER BY rank) AS k FROM oldest) p \
           WHERE rank = k) "
    )
}

/// Heads are looked for in the aggregates of the oldest unleased unpublished rows, this many per
/// row of the batch: one index probe per distinct aggregate there finds its head (its lowest
/// unpublished sequence). Since the batch takes the oldest rows first, a window a few times the
/// batch holds what it can take, so a claim's cost grows with the batch, not the backlog, and it
/// never depends on the planner turning a "no earlier unpublished row" anti-join into something
/// quadratic (Postgres does, once the table is analyzed). Rows leased to another relay are not
/// in the window, so a second relay looks past them; the oldest unleased row's aggregate is
/// always in it, so a relay finds work whenever some aggregate's head is free. `ranked` is
/// bounded the same way: sequences have no gaps, so the rows a batch can take lie below the
/// head's sequence plus the batch size.
const HEAD_CANDIDATES_PER_ROW: u32 = 4;

impl Db {
    pub fn dialect(&self) -> &'static str {
        match self {
            Db::Postgres(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }

    /// Leases at most `limit` rows to `relay_id` for `lease_ms`, heads first; returns them in
    /// (aggregate, sequence) order.
    pub async fn claim(
        &self,
        relay_id: Uuid,
        limit: u32,
        lease_ms: i64,
    ) -> DbResult<Vec<Envelope>> {
        let mut rows = match self {
            Db::Postgres(pool) => pg_claim(pool, relay_id, limit, lease_ms).await?,
            Db::Sqlite(pool) => {
                let now = now_ms();
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let sql = format!(
                    "{} UPDATE outbox SET claimed_by = $2, lease_until = $3 \
                     WHERE event_id IN (SELECT event_id FROM picked) RETURNING {SQLITE_COLUMNS}",
                    claim_sql("$4"),
                );
                let rows = sqlx::query(&sql)
                    .bind(i64::from(limit))
                    .bind(relay_id.hyphenated().to_string())
                    .bind(now + lease_ms)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows.iter()
                    .map(sqlite_envelope)
                    .collect::<DbResult<Vec<_>>>()?
            }
        };
        // RETURNING gives no order; the relay publishes each aggregate's rows in sequence.
        rows.sort_by(|a, b| {
            (&a.aggregate_type, &a.aggregate_id, a.sequence).cmp(&(
                &b.aggregate_type,
                &b.aggregate_id,
                b.sequence,
            ))
        });
        Ok(rows)
    }

    /// Marks rows published, but only under a lease of `relay_id` that is still live: a relay
    /// whose lease ran out must not decide for a relay that took over, nor mark a row while an
    /// earlier row of its aggregate, re-leased by that relay, is unpublished (which would break
    /// the published prefix the claim relies on). `rows` are per aggregate a prefix of what one
    /// claim returned, in its order, so each aggregate's first row is the head it leased. On
    /// Postgres, where only heads are leased, an aggregate's rows are marked while its head is
    /// still leased to `relay_id` (the head is locked from that check to the mark, so no claim
    /// can re-lease it in between); on SQLite, where every row is leased, each row's own lease
    /// decides. Returns how many were marked.
    pub async fn mark_published(&self, relay_id: Uuid, rows: &[&Envelope]) -> DbResult<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        match self {
            Db::Postgres(pool) => {
                let mut heads: HashMap<(&str, &str), Uuid> = HashMap::new();
                for row in rows {
                    heads
                        .entry((&row.aggregate_type, &row.aggregate_id))
                        .or_insert(row.event_id);
                }
                let head_ids: Vec<Uuid> = heads.values().copied().collect();
                let mut tx = pool.begin().await?;
                let live: HashSet<Uuid> = sqlx::query_scalar(
                    "SELECT event_id FROM outbox WHERE event_id = ANY($1) AND claimed_by = $2 \
                       AND lease_until > now() AND published_at IS NULL FOR UPDATE",
                )
                .bind(&head_ids)
                .bind(relay_id)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
                let ids: Vec<Uuid> = rows
                    .iter()
                    .filter(|row| {
                        heads
                            .get(&(row.aggregate_type.as_str(), row.aggregate_id.as_str()))
                            .is_some_and(|head| live.contains(head))
                    })
                    .map(|row| row.event_id)
                    .collect();
                if ids.is_empty() {
                    return Ok(0);
                }
                let marked = sqlx::query(
                    "UPDATE outbox SET published_at = now(), claimed_by = NULL, lease_until = NULL \
                     WHERE event_id = ANY($1) AND published_at IS NULL",
                )
                .bind(&ids)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(marked)
            }
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let mut marked = 0;
                let now = now_ms();
                for row in rows {
                    marked += sqlx::query(
                        "UPDATE outbox SET published_at = $1, claimed_by = NULL, lease_until = NULL \
                         WHERE event_id = $2 AND claimed_by = $3 AND lease_until > $1 \
                           AND published_at IS NULL",
                    )
                    .bind(now)
                    .bind(row.event_id.hyphenated().to_string())
                    .bind(relay_id.hyphenated().to_string())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(marked)
            }
        }
    }

    /// Gives up the leases of rows that were not published, so they can be retried at once
    /// (by this relay after its backoff, or by another).
    pub async fn release(&self, relay_id: Uuid, ids: &[Uuid]) -> DbResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        match self {
            Db::Postgres(pool) => {
                sqlx::query(
                    "UPDATE outbox SET claimed_by = NULL, lease_until = NULL \
                     WHERE event_id = ANY($1) AND claimed_by = $2 AND published_at IS NULL",
                )
                .bind(ids)
                .bind(relay_id)
                .execute(pool)
                .await?;
            }
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                for id in ids {
                    sqlx::query(
                        "UPDATE outbox SET claimed_by = NULL, lease_until = NULL \
                         WHERE event_id = $1 AND claimed_by = $2 AND published_at IS NULL",
                    )
                    .bind(id.hyphenated().to_string())
                    .bind(relay_id.hyphenated().to_string())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Deletes published rows older than `retention_ms`, at most `limit` per key range.
    ///
    /// On Postgres the rows are found through the primary key: event ids are time-ordered
    /// (UUIDv7), so the rows created before the cutoff are the ids below its timestamp, scanned
    /// oldest first; rows with random ids (UUIDv4, from before the switch) sort above every
    /// time-ordered id of this era and are scanned in that range of their own. Both scans skip
    /// unpublished rows and rows published after the cutoff. SQLite reads its index on
    /// `published_at`.
    pub async fn prune(&self, retention_ms: i64, limit: u32) -> DbResult<u64> {
        let done = match self {
            Db::Postgres(pool) => {
                let now = now_ms();
                sqlx::query(
                    "DELETE FROM outbox WHERE event_id IN ( \
                       (SELECT event_id FROM outbox WHERE event_id < $1 \
                          AND published_at < now() - $3 * INTERVAL '1 millisecond' \
                        ORDER BY event_id LIMIT $4) \
                       UNION ALL \
                       (SELECT event_id FROM outbox WHERE event_id > $2 \
                          AND published_at < now() - $3 * INTERVAL '1 millisecond' \
                        ORDER BY event_id LIMIT $4))",
                )
                .bind(time_ordered_floor(now.saturating_sub(retention_ms)))
                .bind(time_ordered_ceiling(
                    now.saturating_add(LEGACY_ID_MARGIN_MS),
                ))
                .bind(retention_ms)
                .bind(i64::from(limit))
                .execute(pool)
                .await?
                .rows_affected()
            }
            Db::Sqlite(pool) => sqlx::query(
                "DELETE FROM outbox WHERE event_id IN (SELECT event_id FROM outbox \
                 WHERE published_at IS NOT NULL AND published_at < $1 \
                 ORDER BY published_at LIMIT $2)",
            )
            .bind(now_ms() - retention_ms)
            .bind(i64::from(limit))
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(done)
    }

    /// Pending rows and the age of the oldest.
    pub async fn backlog(&self) -> DbResult<Backlog> {
        let (count, oldest): (i64, Option<i64>) = match self {
            Db::Postgres(pool) => sqlx::query_as(
                "SELECT count(*), min(unix_ms(created_at)) FROM outbox WHERE published_at IS NULL",
            )
            .fetch_one(pool)
            .await?,
            Db::Sqlite(pool) => {
                sqlx::query_as(
                    "SELECT count(*), min(created_at) FROM outbox WHERE published_at IS NULL",
                )
                .fetch_one(pool)
                .await?
            }
        };
        Ok(Backlog {
            pending: u64::try_from(count).unwrap_or(0),
            lag_ms: oldest.map_or(0, |t| u64::try_from(now_ms() - t).unwrap_or(0)),
        })
    }

    /// The whole retained history of the given aggregate type, in (aggregate, sequence) order,
    /// a page at a time (`after` = the last row's aggregate id and sequence in the previous
    /// page). Each page is a range scan of the `(aggregate_type, aggregate_id, sequence)` unique
    /// index, so reading the history costs one pass however long it is.
    pub async fn history(
        &self,
        aggregate_type: &str,
        after: Option<(String, i64)>,
        limit: u32,
    ) -> DbResult<Vec<Envelope>> {
        let (after_id, after_seq) = after.unwrap_or((String::new(), 0));
        let filter = "WHERE aggregate_type = $1 AND (aggregate_id, sequence) > ($2, $3) \
                      ORDER BY aggregate_id, sequence LIMIT $4";
        match self {
            Db::Postgres(pool) => {
                let sql = format!("SELECT {PG_COLUMNS} FROM outbox {filter}");
                let rows = sqlx::query(&sql)
                    .bind(aggregate_type)
                    .bind(after_id)
                    .bind(after_seq)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(pg_envelope).collect()
            }
            Db::Sqlite(pool) => {
                let sql = format!("SELECT {SQLITE_COLUMNS} FROM outbox {filter}");
                let rows = sqlx::query(&sql)
                    .bind(aggregate_type)
                    .bind(after_id)
                    .bind(after_seq)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(sqlite_envelope).collect()
            }
        }
    }

    pub async fn begin(&self) -> DbResult<Tx> {
        Ok(match self {
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// Records a message a consumer gave up on (the embedded bus's dead-letter queue, and the
    /// operator's view of the Kafka one).
    pub async fn dead_letter(
        &self,
        consumer: &str,
        envelope: &Envelope,
        error: &str,
        attempts: u32,
    ) -> DbResult<()> {
        let attempts = i64::from(attempts);
        match self {
            Db::Postgres(pool) => {
                sqlx::query(
                    "INSERT INTO dead_letters (consumer, event_id, event_type, aggregate_id, payload, \
                     error, attempts, failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now()) \
                     ON CONFLICT (consumer, event_id) DO UPDATE SET error = EXCLUDED.error, \
                     attempts = EXCLUDED.attempts, failed_at = EXCLUDED.failed_at",
                )
                .bind(consumer)
                .bind(envelope.event_id)
                .bind(&envelope.event_type)
                .bind(&envelope.aggregate_id)
                .bind(&envelope.payload)
                .bind(error)
                .bind(attempts)
                .execute(pool)
                .await?;
            }
            Db::Sqlite(pool) => {
                sqlx::query(
                    "INSERT INTO dead_letters (consumer, event_id, event_type, aggregate_id, payload, \
                     error, attempts, failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (consumer, event_id) DO UPDATE SET error = excluded.error, \
                     attempts = excluded.attempts, failed_at = excluded.failed_at",
                )
                .bind(consumer)
                .bind(envelope.event_id.hyphenated().to_string())
                .bind(&envelope.event_type)
                .bind(&envelope.aggregate_id)
                .bind(&envelope.payload)
                .bind(error)
                .bind(attempts)
                .bind(now_ms())
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }
}

impl Tx {
    /// Claims `(consumer, event_id)` in the inbox; `false` if it was there already (the event
    /// was applied before and this delivery must change nothing).
    pub async fn inbox_claim(&mut self, consumer: &str, event_id: Uuid) -> DbResult<bool> {
        let inserted = match self {
            Tx::Postgres(tx) => sqlx::query(
                "INSERT INTO inbox (consumer, event_id, processed_at) VALUES ($1, $2, now()) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(consumer)
            .bind(event_id)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
            Tx::Sqlite(tx) => sqlx::query(
                "INSERT INTO inbox (consumer, event_id, processed_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(consumer)
            .bind(event_id.hyphenated().to_string())
            .bind(now_ms())
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        };
        Ok(inserted == 1)
    }

    /// [`Tx::inbox_claim`] for many events at once (one statement on Postgres): the ids that
    /// were not yet in `consumer`'s inbox, which the caller now applies.
    pub async fn inbox_claim_many(
        &mut self,
        consumer: &str,
        event_ids: &[Uuid],
    ) -> DbResult<std::collections::HashSet<Uuid>> {
        match self {
            Tx::Postgres(tx) => Ok(sqlx::query_scalar::<_, Uuid>(
                "INSERT INTO inbox (consumer, event_id, processed_at) \
                 SELECT $1, id, now() FROM UNNEST($2::UUID[]) AS id \
                 ON CONFLICT DO NOTHING RETURNING event_id",
            )
            .bind(consumer)
            .bind(event_ids)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect()),
            Tx::Sqlite(_) => {
                let mut fresh = std::collections::HashSet::with_capacity(event_ids.len());
                for id in event_ids {
                    if self.inbox_claim(consumer, *id).await? {
                        fresh.insert(*id);
                    }
                }
                Ok(fresh)
            }
        }
    }

    pub async fn commit(self) -> DbResult<()> {
        match self {
            Tx::Postgres(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }
}

/// The Postgres claim, with the selection done here rather than by the planner: three short
/// statements in one transaction, each an index range or a probe per id, so its cost follows
/// the batch and never the plan Postgres picks for a join (which, for the one-statement
/// version, changed with the table's statistics).
///
/// 1. The window: the oldest `limit` unleased unpublished rows (`outbox_unpublished`).
/// 2. Each aggregate's lowest sequence in the window is its candidate head. The heads that are
///    still unleased and whose predecessor (`sequence - 1`, one probe of the unique index) is
///    published or pruned, that is, that are their aggregate's oldest unpublished row, are
///    locked `FOR UPDATE SKIP LOCKED`: a relay claiming at the same moment skips them, and its
///    own candidates behind them fail the predecessor test. The predecessor stands for every
///    earlier row because an aggregate's published rows are always a gapless prefix: a relay
///    takes heads with the rows right behind them, marks per aggregate only the acknowledged
///    prefix of what it took, and only while the head's lease is live (`mark_published`).
/// 3. Each locked head and the rows that follow it in the window without a gap in sequence are
///    taken; only the heads are leased. A row behind a head is never anyone else's candidate
///    while its head is unpublished (its predecessor test fails), so the head's lease holds the
///    whole prefix, and `mark_published` marks a prefix only under its head's live lease.
///    Leasing one row per aggregate instead of every row spares a flash sale about six row
///    versions per order (docs/performance.md). A group commit's rows share one commit time,
///    so within an aggregate the window is put in sequence order rather than trusted to be in
///    it.
async fn pg_claim(
    pool: &PgPool,
    relay_id: Uuid,
    limit: u32,
    lease_ms: i64,
) -> DbResult<Vec<Envelope>> {
    let mut tx = pool.begin().await?;
    let sql = format!(
        "SELECT {PG_COLUMNS} FROM outbox \
         WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now()) \
         ORDER BY created_at, sequence LIMIT $1"
    );
    // The window: the oldest unleased unpublished rows, by commit time. It reads whole rows, so
    // the rows the claim takes need no second lookup.
    let window = sqlx::query(&sql)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(pg_envelope)
        .collect::<DbResult<Vec<_>>>()?;
    if window.is_empty() {
        return Ok(Vec::new());
    }
    let aggregates = by_aggregate(&window);
    let candidates: Vec<Uuid> = aggregates.values().map(|rows| rows[0].1).collect();
    let locked: HashSet<Uuid> = sqlx::query_scalar(
        "SELECT o.event_id FROM outbox o WHERE o.event_id = ANY($1) \
           AND o.published_at IS NULL AND (o.lease_until IS NULL OR o.lease_until < now()) \
           AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.aggregate_type = o.aggregate_type \
               AND e.aggregate_id = o.aggregate_id AND e.sequence = o.sequence - 1 \
               AND e.published_at IS NULL) \
         FOR UPDATE OF o SKIP LOCKED",
    )
    .bind(&candidates)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let picked: HashSet<Uuid> = prefixes(&aggregates, &locked).into_iter().collect();
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let heads: Vec<Uuid> = locked.into_iter().collect();
    sqlx::query(
        "UPDATE outbox SET claimed_by = $2, lease_until = now() + $3 * INTERVAL '1 millisecond' \
         WHERE event_id = ANY($1) AND published_at IS NULL",
    )
    .bind(&heads)
    .bind(relay_id)
    .bind(lease_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(window
        .into_iter()
        .filter(|row| picked.contains(&row.event_id))
        .collect())
}

/// A claim window's rows by aggregate, each aggregate's in sequence order (a group commit's
/// rows share one commit time, so the window's order says nothing within an aggregate); the
/// first row of each is its candidate head.
fn by_aggregate(window: &[Envelope]) -> HashMap<(&str, &str), Vec<(i64, Uuid)>> {
    let mut aggregates: HashMap<(&str, &str), Vec<(i64, Uuid)>> = HashMap::new();
    for row in window {
        let key = (row.aggregate_type.as_str(), row.aggregate_id.as_str());
        aggregates
            .entry(key)
            .or_default()
            .push((row.sequence, row.event_id));
    }
    for rows in aggregates.values_mut() {
        rows.sort_unstable();
    }
    aggregates
}

/// Each head in `locked` with the rows that follow it without a gap in sequence.
fn prefixes(
    aggregates: &HashMap<(&str, &str), Vec<(i64, Uuid)>>,
    locked: &HashSet<Uuid>,
) -> Vec<Uuid> {
    let mut picked = Vec::new();
    for rows in aggregates.values() {
        let (head, head_id) = rows[0];
        if !locked.contains(&head_id) {
            continue;
        }
        let prefix = rows
            .iter()
            .zip(head..)
            .take_while(|((sequence, _), expected)| sequence == expected);
        picked.extend(prefix.map(|((_, id), _)| *id));
    }
    picked
}

fn pg_envelope(row: &sqlx::postgres::PgRow) -> DbResult<Envelope> {
    Ok(Envelope {
        event_id: row.try_get("event_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        payload: row.try_get("payload")?,
        occurred_at_ms: row.try_get("created_ms")?,
    })
}

fn sqlite_envelope(row: &sqlx::sqlite::SqliteRow) -> DbResult<Envelope> {
    let id: String = row.try_get("event_id")?;
    Ok(Envelope {
        event_id: Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        payload: row.try_get("payload")?,
        occurred_at_ms: row.try_get("created_ms")?,
    })
}

/// Time-ordered ids of rows created this far after now cannot exist yet (a day of clock skew
/// between servers and more): ids above that bound are random ones, from before the switch.
const LEGACY_ID_MARGIN_MS: i64 = 86_400_000;

/// The lowest UUIDv7 of the millisecond `unix_ms`: every time-ordered id of an earlier
/// millisecond is below it.
fn time_ordered_floor(unix_ms: i64) -> Uuid {
    Uuid::from_u128(u128::from(u64::try_from(unix_ms.max(0)).unwrap_or(0)) << 80)
}

/// The highest UUIDv7 of the millisecond `unix_ms`.
fn time_ordered_ceiling(unix_ms: i64) -> Uuid {
    Uuid::from_u128(time_ordered_floor(unix_ms).as_u128() | ((1u128 << 80) - 1))
}

/// The wall clock in unix milliseconds (SQLite stores instants so; Postgres uses `now()`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_bounds_enclose_the_ids_of_their_milliseconds_and_exclude_random_ones() {
        let now = now_ms();
        let id = Uuid::now_v7();
        assert!(time_ordered_floor(now - 1_000) < id, "{id}");
        assert!(id < time_ordered_ceiling(now + 1_000), "{id}");
        assert!(time_ordered_floor(now + 1_000) > id);
        // A random id sorts above this era's time-ordered ids unless its first 48 bits happen
        // to read as a past millisecond (about 0.6% of them); those fall in the lower range.
        let ceiling = time_ordered_ceiling(now + LEGACY_ID_MARGIN_MS);
        let random = Uuid::parse_str("4f1c2d3e-aaaa-4bbb-8ccc-123456789abc").expect("uuid");
        assert!(random > ceiling);
        assert_eq!(time_ordered_floor(-5), Uuid::nil());
    }
}
