//! A generic runtime of sharded, supervised actors with group commit. It knows nothing of
//! commerce: an aggregate plugs in through [`Entity`] (how to decide a command) and
//! [`EntityStore`] (where its state is loaded from and committed to).
//!
//! Layout:
//! - [`system`]: the actix threads (arbiters) actors run on; IO runs on the tokio runtime.
//! - [`sharding`]: routing by id, race-free get-or-activate, bounded mailboxes, eviction.
//! - `actor`: the actor shell: one-at-a-time decisions, group commit, supervision, passivation.
//! - [`stats`]: counters for operators; [`journal`]: the recent failures and restarts.
//! - [`config`]: every limit and timing, named.

mod actor;
mod coalescer;
pub mod config;
pub mod entity;
pub mod error;
pub mod journal;
pub mod sharding;
pub mod stats;
pub mod system;

pub use config::RuntimeConfig;
pub use entity::{Decision, Entity, EntityId, EntityStore, StoreError};
pub use error::DispatchError;
pub use journal::{JournalEntry, SupervisionEvent};
pub use sharding::{ActorView, Sharding};
pub use stats::{KindStatsSnapshot, PassivationReason};
pub use system::ActorSystem;
