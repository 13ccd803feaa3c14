//! The store contract: every test here runs against both adapters, SQLite (a fresh file in a
//! temporary directory) and Postgres (a fresh database on `TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`), so the two cannot drift apart.
//!
//! Each module declares its tests once, as `async fn name(h: Harness)`, and lists them in
//! `contract_tests!`, which generates `module::sqlite::name` and `module::postgres::name`.
//! Tests read given / when / then.

mod fixtures;
mod harness;

mod accounts;
mod adapters;
mod batches;
mod carts;
mod corruption;
mod idempotency;
mod inventory;
mod orders;
mod products;
mod sagas;
