//! The database schema, one migration directory per dialect, embedded into the binary so a
//! deployed server can never run against a schema it was not built for.
//!
//! Architecture invariant: both directories describe the same tables with the same constraints;
//! only the dialect differs (`UUID`/`TIMESTAMPTZ`/`JSONB` on Postgres, `TEXT`/unix-ms
//! `INTEGER`/`TEXT` on SQLite). A change to one needs the same change to the other, and the
//! `persistence` contract suite runs against both to prove it. Storage settings and helpers with no
//! SQLite equivalent (the outbox's fill factor, the inlinable unix-ms conversions, an outbox
//! index only SQLite's claim reads) are Postgres-only migrations.
//!
//! This crate knows nothing of the domain or of the store adapters: it is SQL only.

/// The Postgres schema (`migrations/postgres/*.sql`).
pub static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./postgres");

/// The SQLite schema (`migrations/sqlite/*.sql`).
pub static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./sqlite");
