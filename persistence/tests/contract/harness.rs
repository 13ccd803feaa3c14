//! One store per test, on either backend, cleaned up afterwards even when the test panics.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use actors::ports::Store;
use futures::FutureExt;
use persistence::{OutboxRow, PgStore, PoolConfig, SqliteStore};
use sqlx::Connection;

/// The server the Postgres variant creates its databases on.
const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Generates `sqlite::<name>` and `postgres::<name>` tokio tests for each contract test `name`
/// (an `async fn(Harness)` in the invoking module).
#[macro_export]
macro_rules! contract_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run($crate::harness::Backend::Sqlite, super::$name).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run($crate::harness::Backend::Postgres, super::$name).await;
                }
            )+
        }
    };
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The store under test, with the inherent inspection methods of its concrete type.
#[derive(Clone)]
pub enum Harness {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Harness {
    pub fn store(&self) -> &dyn Store {
        match self {
            Harness::Sqlite(s) => s,
            Harness::Postgres(s) => s,
        }
    }

    pub async fn outbox_rows_for(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Vec<OutboxRow> {
        let rows = match self {
            Harness::Sqlite(s) => s.outbox_rows_for(aggregate_type, aggregate_id).await,
            Harness::Postgres(s) => s.outbox_rows_for(aggregate_type, aggregate_id).await,
        };
        rows.expect("outbox rows")
    }

    pub async fn outbox_count(&self) -> u64 {
        let count = match self {
            Harness::Sqlite(s) => s.outbox_count().await,
            Harness::Postgres(s) => s.outbox_count().await,
        };
        count.expect("outbox count")
    }
}

/// Where a test's store lives, to remove it afterwards.
enum Place {
    Dir(PathBuf),
    Database { admin_url: String, name: String },
}

/// Runs `test` on a fresh store of `backend`, then removes the store, then re-raises a panic.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (harness, place) = match backend {
        Backend::Sqlite => sqlite().await,
        Backend::Postgres => postgres().await,
    };
    let outcome = AssertUnwindSafe(test(harness.clone())).catch_unwind().await;
    drop_store(harness, place).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn sqlite() -> (Harness, Place) {
    let dir = std::env::temp_dir().join(format!("contract-{}", uuid::Uuid::new_v4().simple()));
    let store = SqliteStore::open(&dir, &PoolConfig::default())
        .await
        .expect("open sqlite store");
    (Harness::Sqlite(store), Place::Dir(dir))
}

async fn postgres() -> (Harness, Place) {
    let admin_url =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned());
    let name = format!("contract_{}", uuid::Uuid::new_v4().simple());
    // A database name cannot be a bind parameter; this one is built from hex digits only.
    admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
    let store = PgStore::connect(&database_url(&admin_url, &name), &PoolConfig::default())
        .await
        .expect("connect to the test database");
    (
        Harness::Postgres(store),
        Place::Database { admin_url, name },
    )
}

async fn drop_store(harness: Harness, place: Place) {
    match (harness, place) {
        (Harness::Sqlite(store), Place::Dir(dir)) => {
            store.pool().close().await;
            let _ = std::fs::remove_dir_all(dir);
        }
        (Harness::Postgres(store), Place::Database { admin_url, name }) => {
            store.pool().close().await;
            admin(
                &admin_url,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
        _ => unreachable!("a harness is always paired with its own kind of place"),
    }
}

/// Runs one statement on the admin database.
async fn admin(admin_url: &str, statement: &str) {
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::raw_sql(statement)
        .execute(&mut conn)
        .await
        .expect("admin statement");
    let _ = conn.close().await;
}

/// `admin_url` pointing at database `name` instead.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let (authority, _) = base.rsplit_once('/').expect("a URL with a database path");
    match query {
        Some(q) => format!("{authority}/{name}?{q}"),
        None => format!("{authority}/{name}"),
    }
}

impl Harness {
    /// Runs raw SQL written in the subset both dialects share, to plant states the store itself
    /// would never write.
    pub async fn execute_raw(&self, sql: &'static str) {
        let result = match self {
            Harness::Sqlite(s) => sqlx::raw_sql(sql).execute(s.pool()).await.map(|_| ()),
            Harness::Postgres(s) => sqlx::raw_sql(sql).execute(s.pool()).await.map(|_| ()),
        };
        result.expect("raw statement");
    }
}
