//! What differs between the adapters by design: how each is opened and configured, and how it
//! reports a database it cannot reach.

use std::path::PathBuf;

use actors::ports::StoreError;
use persistence::{open_store, PgStore, PoolConfig, SqliteStore};

use crate::harness::{run, Backend, Harness};

fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("adapters-{}", uuid::Uuid::new_v4().simple()))
}

#[tokio::test]
async fn postgres_that_does_not_listen_is_unavailable() {
    let cfg = PoolConfig {
        acquire_timeout: std::time::Duration::from_millis(500),
        ..PoolConfig::default()
    };

    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let result = PgStore::connect("postgres://postgres@127.0.0.1:1/postgres", &cfg).await;

    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn sqlite_whose_directory_cannot_be_created_is_unavailable() {
    // A directory cannot live under a regular file, whoever runs the test.
    let file = temp_dir();
    std::fs::write(&file, b"not a directory").unwrap();

    let result = SqliteStore::open(&file.join("data"), &PoolConfig::default()).await;

    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn sqlite_runs_durable_wal_with_foreign_keys() {
    let dir = temp_dir();
    let store = SqliteStore::open(&dir, &PoolConfig::default())
        .await
        .unwrap();

    let journal: (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let synchronous: (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let foreign_keys: (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();

    assert_eq!(journal.0, "wal");
    assert_eq!(synchronous.0, 2, "synchronous = FULL");
    assert_eq!(foreign_keys.0, 1);
    assert!(dir.join(persistence::DATABASE_FILE).exists());
    store.pool().close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn postgres_sessions_carry_the_statement_timeout() {
    run(Backend::Postgres, |h| async move {
        let Harness::Postgres(store) = h else {
            unreachable!("asked for Postgres")
        };

        let (timeout,): (String,) = sqlx::query_as("SHOW statement_timeout")
            .fetch_one(store.pool())
            .await
            .unwrap();

        assert_eq!(timeout, "5s", "PoolConfig::default().statement_timeout");
    })
    .await;
}

#[tokio::test]
async fn open_store_picks_sqlite_without_a_url_and_refuses_other_schemes() {
    let dir = temp_dir();

    let sqlite = open_store(None, &dir, &PoolConfig::default())
        .await
        .unwrap();
    let other = open_store(
        Some("mysql://root@localhost/db"),
        &dir,
        &PoolConfig::default(),
    )
    .await;

    sqlite.ping().await.unwrap();
    assert!(matches!(other, Err(StoreError::Other(_))));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn postgres_time_conversions_are_inlined_and_exact_in_any_time_zone() {
    run(Backend::Postgres, |h| async move {
        let Harness::Postgres(store) = h else {
            unreachable!("asked for Postgres")
        };
        let mut conn = store.pool().acquire().await.unwrap();
        sqlx::query("SET TIME ZONE 'America/New_York'")
            .execute(&mut *conn)
            .await
            .unwrap();

        // Inlined: the plan shows the functions' bodies, not calls to them (a call runs the
        // SQL-function executor once per row).
        let plan: Vec<(String,)> = sqlx::query_as(
            "EXPLAIN (VERBOSE) SELECT from_unix_ms(x), unix_ms(now()) FROM generate_series(1, 3) x",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let plan: String = plan.into_iter().map(|(line,)| line + "\n").collect();
        assert!(!plan.contains("from_unix_ms("), "{plan}");
        assert!(!plan.contains("unix_ms("), "{plan}");

        // Exact at millisecond precision, both ways, before and after 1970 and far ahead.
        for ms in [
            0_i64,
            -1,
            1,
            1_732_500_000_123,
            -1_000_000_000_001,
            4_102_444_799_999,
        ] {
            let (back, text): (i64, String) = sqlx::query_as(
                "SELECT unix_ms(from_unix_ms($1)), \
                        to_char(from_unix_ms($1) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')",
            )
            .bind(ms)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
            let (epoch,): (i64,) =
                sqlx::query_as("SELECT (EXTRACT(EPOCH FROM $1::TIMESTAMP) * 1000)::BIGINT")
                    .bind(text.clone())
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(back, ms, "round trip of {ms}");
            assert_eq!(epoch, ms, "{ms} is {text} UTC");
        }
    })
    .await;
}
