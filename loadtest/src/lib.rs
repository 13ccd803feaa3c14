//! `loadtest`: load generator, books verifier and benchmark driver for the commerce server.
//!
//! Layout, from the pure core out to the edge:
//! - `schedule`, `zipf`, `outcome`, `stats`, `thresholds`, `verify` (checks): pure, no IO; the
//!   arithmetic and judgements the unit tests pin down.
//! - `scenario`: the three workloads as operations over the HTTP `client`.
//! - `driver`: open model (intended start times, coordinated-omission corrected) and closed model.
//! - `verify::collect`: reads the books from the API and, read-only, from the store.
//! - `report`: summary table, JSON, self-contained HTML; `steps`: the server's time per checkout
//!   step over the measured window, read from its `/metrics`; `dbcost`: Postgres's work per
//!   confirmed order over the window, from its own counters (read-only).
//! - `run` (one measured run), `bench` (ceiling vs store ceiling vs baseline vs actor, child
//!   servers via `server`), `memory` (RSS per cart, cold activation), `echo` (the ceiling
//!   server), `storeceiling` (Postgres alone writing confirmed orders' rows in batches).
//! - `cli`: flags and scenario files, resolved into a `RunPlan`; `main.rs` only dispatches.
//!
//! Architecture invariant: the tool knows the server only through its HTTP contract and its
//! tables (read-only); it depends on no crate of the workspace, so it can measure any build. The
//! one writer of tables is the store ceiling, and only into a fresh database of its own that no
//! server uses.

pub mod bench;
pub mod cli;
pub mod client;
pub mod dbcost;
pub mod driver;
pub mod echo;
pub mod limits;
pub mod memory;
pub mod outcome;
pub mod report;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod server;
pub mod stats;
pub mod steps;
pub mod storeceiling;
pub mod thresholds;
pub mod verify;
pub mod zipf;
