//! End-to-end tests of the `commerce` server: the real application on a random port, real
//! stores (SQLite in a temp dir, and a fresh Postgres database per test), real HTTP.

mod helpers;

mod accounts;
mod bad_input;
mod carts;
mod catalog;
mod checkout;
mod concurrency;
mod faults;
mod lifecycle;
mod naive;
mod observability;
mod openapi;
mod read_models;
mod relay_process;
mod restart;
mod saga;
