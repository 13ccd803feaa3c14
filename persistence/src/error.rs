//! Mapping database errors onto the port's `StoreError`.
//!
//! The runtime acts on the kind: `Unavailable` is retried later, `Conflict` reloads the
//! aggregate, `Other` is a bug or corrupt data. So the mapping errs on the side of `Other` for
//! anything it does not recognise as transient.

use actors::ports::StoreError;
use sqlx::error::DatabaseError;

/// Maps any sqlx error (outside the version-0 insert, see [`map_insert`]) to a `StoreError`.
pub(crate) fn map(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::BeginFailed => StoreError::Unavailable(err.to_string()),
        // Configuration errors may quote the connection string, which can carry a password.
        sqlx::Error::Configuration(_) => {
            StoreError::Other("invalid database configuration".to_owned())
        }
        sqlx::Error::Database(db) if is_transient(db.as_ref()) => {
            StoreError::Unavailable(db.to_string())
        }
        other => StoreError::Other(other.to_string()),
    }
}

/// Maps the error of inserting a row that must not exist yet: a unique violation there means
/// another writer created the aggregate first, which is a version conflict.
pub(crate) fn map_insert(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => map(err),
    }
}

/// Maps a migration failure; a failure to reach the database stays `Unavailable`.
pub(crate) fn map_migrate(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(inner) => map(inner),
        other => StoreError::Other(format!("migration failed: {other}")),
    }
}

/// Whether a database error says "not now" rather than "never".
fn is_transient(db: &dyn DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        is_transient_sqlite(&code)
    } else {
        is_transient_postgres(&code)
    }
}

/// Postgres SQLSTATEs for a lost connection (class 08), exhausted resources (class 53), a
/// cancelled or timed-out statement and an operator shutdown (class 57), and serialization or
/// deadlock aborts (class 40), all of which a later retry can survive.
fn is_transient_postgres(code: &str) -> bool {
    code.len() == 5
        && ["08", "53", "57", "40"]
            .iter()
            .any(|class| code.starts_with(class))
}

/// SQLite's (extended) result codes for a database that is busy or locked by another writer
/// past the busy timeout: SQLITE_BUSY (5) and SQLITE_LOCKED (6) and their extended forms.
fn is_transient_sqlite(code: &str) -> bool {
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_transient_classes_are_connection_resources_operator_and_rollback() {
        for code in ["08006", "53300", "57014", "57P01", "40001", "40P01"] {
            assert!(is_transient_postgres(code), "{code}");
        }
    }

    #[test]
    fn postgres_constraint_and_syntax_errors_are_not_transient() {
        for code in ["23505", "23514", "42601", "22P02", "0800"] {
            assert!(!is_transient_postgres(code), "{code}");
        }
    }

    #[test]
    fn sqlite_busy_and_locked_are_transient_in_every_extended_form() {
        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE.
        for code in ["5", "6", "517", "262"] {
            assert!(is_transient_sqlite(code), "{code}");
        }
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_CHECK, SQLITE_ERROR.
        for code in ["2067", "275", "1"] {
            assert!(!is_transient_sqlite(code), "{code}");
        }
    }

    #[test]
    fn pool_exhaustion_is_unavailable_and_configuration_hides_its_detail() {
        assert!(matches!(
            map(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        let config = sqlx::Error::Configuration("postgres://user:hunter2@db/x is invalid".into());
        match map(config) {
            StoreError::Other(message) => assert!(!message.contains("hunter2"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
