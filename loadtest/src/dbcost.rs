//! What the database did for each confirmed order: Postgres's own counters, read before and after
//! the measured window, divided by the orders confirmed in it. Unlike throughput and latency on a
//! shared machine, these figures barely move from run to run, so they tell two builds (or the
//! baseline and the actor runtime) apart where timings cannot.
//!
//! The counters:
//! - transactions committed, rows inserted, updated (HOT or not) and deleted, shared buffers hit
//!   and read: `pg_stat_database` for the server's database;
//! - WAL bytes: the cluster's WAL position (`pg_current_wal_lsn`), so writes to other databases
//!   in the window count too (the bench runs one server at a time for that reason).
//!
//! Postgres backends publish their counters when a transaction ends, at most once a second, so a
//! reading lags by up to a second of work; in a steady window the lags at both ends cancel, and
//! the figures are the server's steady cost per order, work that trails an order (the outbox
//! relay, the consumers) included. Only Postgres has these counters: against SQLite, or without
//! `--database-url`, a run reports none.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    pub transactions: i64,
    pub rows_inserted: i64,
    pub rows_updated: i64,
    pub rows_deleted: i64,
    pub blocks_hit: i64,
    pub blocks_read: i64,
    pub wal_bytes: i64,
}

/// The database's work per confirmed order over the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DbCost {
    /// Orders confirmed in the window: the divisor.
    pub orders: u64,
    /// Operations the load tool completed in the window (attempts refused for lack of stock
    /// included): a window mostly sold out costs much per confirmed order.
    #[serde(default)]
    pub operations: u64,
    pub transactions: f64,
    pub rows_inserted: f64,
    pub rows_updated: f64,
    pub rows_deleted: f64,
    pub blocks_hit: f64,
    pub blocks_read: f64,
    pub wal_bytes: f64,
}

impl DbCost {
    /// The summary table's lines.
    pub fn lines(&self) -> String {
        format!(
            "  database work per confirmed order (Postgres counters over the window, {} orders of {} \
             operations):\n    \
             transactions {:.2}, rows inserted {:.2}, updated {:.2}, deleted {:.2}\n    \
             WAL {:.0} bytes, shared buffers hit {:.1}, read {:.2}\n",
            self.orders,
            self.operations,
            self.transactions,
            self.rows_inserted,
            self.rows_updated,
            self.rows_deleted,
            self.wal_bytes,
            self.blocks_hit,
            self.blocks_read
        )
    }
}

/// The work between two readings per order; `None` when no order was confirmed.
pub fn between(before: &Reading, after: &Reading, orders: u64, operations: u64) -> Option<DbCost> {
    if orders == 0 {
        return None;
    }
    let per = |a: i64, b: i64| (b - a) as f64 / orders as f64;
    Some(DbCost {
        orders,
        operations,
        transactions: per(before.transactions, after.transactions),
        rows_inserted: per(before.rows_inserted, after.rows_inserted),
        rows_updated: per(before.rows_updated, after.rows_updated),
        rows_deleted: per(before.rows_deleted, after.rows_deleted),
        blocks_hit: per(before.blocks_hit, after.blocks_hit),
        blocks_read: per(before.blocks_read, after.blocks_read),
        wal_bytes: per(before.wal_bytes, after.wal_bytes),
    })
}

/// Whether `url` names a Postgres database (the only store with these counters).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Reads the counters of the database `url` names, on a connection of its own so no earlier
/// snapshot of the statistics is reused. `None` when `url` is not Postgres or cannot be read:
/// the run then reports no database work rather than failing.
pub async fn read(url: &str) -> Option<Reading> {
    if !is_postgres(url) {
        return None;
    }
    match try_read(url).await {
        Ok(reading) => Some(reading),
        Err(e) => {
            eprintln!("could not read the database counters: {e}");
            None
        }
    }
}

async fn try_read(url: &str) -> Result<Reading, sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    let row = sqlx::query(
        "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, blks_hit, blks_read, \
                (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS wal_bytes \
         FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await?;
    let reading = Reading {
        transactions: row.try_get("xact_commit")?,
        rows_inserted: row.try_get("tup_inserted")?,
        rows_updated: row.try_get("tup_updated")?,
        rows_deleted: row.try_get("tup_deleted")?,
        blocks_hit: row.try_get("blks_hit")?,
        blocks_read: row.try_get("blks_read")?,
        wal_bytes: row.try_get("wal_bytes")?,
    };
    conn.close().await?;
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_is_each_counters_growth_over_the_orders() {
        let before = Reading {
            transactions: 100,
            rows_inserted: 1_000,
            rows_updated: 50,
            rows_deleted: 0,
            blocks_hit: 10_000,
            blocks_read: 7,
            wal_bytes: 1 << 20,
        };
        let after = Reading {
            transactions: 150,
            rows_inserted: 1_900,
            rows_updated: 650,
            rows_deleted: 10,
            blocks_hit: 30_000,
            blocks_read: 7,
            wal_bytes: (1 << 20) + 400_000,
        };
        let cost = between(&before, &after, 100, 120).expect("orders were confirmed");
        assert_eq!((cost.orders, cost.operations), (100, 120));
        assert_eq!(cost.transactions, 0.5);
        assert_eq!(cost.rows_inserted, 9.0);
        assert_eq!(cost.rows_updated, 6.0);
        assert_eq!(cost.rows_deleted, 0.1);
        assert_eq!(cost.blocks_hit, 200.0);
        assert_eq!(cost.blocks_read, 0.0);
        assert_eq!(cost.wal_bytes, 4_000.0);
    }

    #[test]
    fn no_confirmed_order_means_no_cost_per_order() {
        assert_eq!(
            between(&Reading::default(), &Reading::default(), 0, 5),
            None
        );
    }

    #[test]
    fn only_postgres_urls_have_counters() {
        assert!(is_postgres("postgres://postgres@127.0.0.1:5432/db"));
        assert!(is_postgres("postgresql://localhost/db"));
        assert!(!is_postgres("sqlite:///tmp/commerce.db"));
    }
}
