//! Store adapters: Postgres and SQLite implementations of the actors' [`Store`] port, each
//! committing the aggregate row, its version check and its outbox rows in one transaction.
//!
//! Architecture invariant: both adapters mean the same thing by every row. Everything that is
//! not SQL is shared and written once: the batch checks ([`plan`]), the outbox event types and
//! JSON payloads ([`events`]), and the conversion of rows into aggregates ([`rows`]). The
//! contract suite in `tests/contract` runs every test against both.
//!
//! Layout:
//! - [`PgStore`] (`pg`), [`SqliteStore`] (`sqlite`): the adapters, SQL only.
//! - `plan`: the version-chain assertions and what a commit writes.
//! - `events`: the outbox's published schema (event types, payloads).
//! - `rows`, `convert`: rows and columns to domain values, failing as corrupt state.
//! - `error`: sqlx errors to `StoreError` (`Unavailable` / `Conflict` / `Other`).
//! - [`PoolConfig`]: connection limits; [`open_store`]: the one place choosing an adapter.
//! - [`naive`]: the classic one-transaction checkout, the baseline the actor engine is measured
//!   against (`commerce serve --engine naive-sql`).
//!
//! The domain knows nothing of this crate; the row types and JSON DTOs live here and are
//! converted by hand.

mod config;
mod convert;
mod error;
mod events;
mod group;
pub mod naive;
mod outbox;
mod pg;
mod plan;
mod rows;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use actors::ports::{Store, StoreError};

pub use config::PoolConfig;
pub use outbox::OutboxRow;
pub use pg::{migrate_postgres, PgStore};
pub use sqlite::{SqliteStore, DATABASE_FILE};

/// Opens the store the configuration names: Postgres when `database_url` is a `postgres://` or
/// `postgresql://` URL, otherwise SQLite in `data_dir`. Either way the schema is migrated first.
pub async fn open_store(
    database_url: Option<&str>,
    data_dir: &Path,
    cfg: &PoolConfig,
) -> Result<Arc<dyn Store>, StoreError> {
    match database_url {
        Some(url) if is_postgres_url(url) => Ok(Arc::new(PgStore::connect(url, cfg).await?)),
        Some(_) => Err(StoreError::Other(
            "DATABASE_URL must be a postgres:// or postgresql:// URL; leave it unset for SQLite"
                .to_owned(),
        )),
        None => Ok(Arc::new(SqliteStore::open(data_dir, cfg).await?)),
    }
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
