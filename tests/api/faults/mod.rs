//! Fault scenarios: the real `commerce` binary on Postgres, killed, cut off from its database,
//! and flooded, each under a flash-sale load. Each scenario prints what it did and what it
//! checked (`cargo test --test api faults -- --nocapture`); `docs/failure-scenarios.md` maps
//! every failure to the test that proves what the system does about it.

mod books;
mod broker_crash;
mod crash;
mod db_outage;
mod load;
mod overload;
