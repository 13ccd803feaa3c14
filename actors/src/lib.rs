//! Commerce on the runtime: the domain aggregates hosted as actors, the checkout saga, and the
//! ports (store, payment, shipping, clock) the application needs from the world.
//!
//! Layout:
//! - [`ports`]: traits the adapters implement, and the data crossing them.
//! - [`hosted`]: one generic runtime entity over any domain aggregate.
//! - [`aggregates`]: what is specific to each aggregate (views, changes, store calls).
//! - [`saga`]: the checkout saga and its compensation.
//! - [`accounts`]: sign-up, login sessions and bearer tokens (Argon2id, rows in the store).
//! - [`app`]: the use-case facade the HTTP edge calls, and background work.
//! - [`ops`]: what operators see and do: live actors, supervision journal, sagas in flight.
//! - [`sandbox`]: payment and shipping adapters in provider test mode.

pub mod accounts;
pub mod aggregates;
pub mod app;
pub mod error;
pub mod hosted;
pub mod ops;
pub mod ports;
pub mod saga;
pub mod sandbox;

pub use accounts::{Account, Accounts, AccountsConfig, NewSession};
pub use aggregates::{InventoryCommand, InventoryView, OrderCommand};
pub use app::{Commerce, CommerceConfig, Ports, Shopper};
pub use error::AppError;
