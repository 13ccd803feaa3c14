//! The pure commerce domain: values, aggregates and their rules.
//!
//! This crate does no IO, spawns nothing and reads no clock; time, ids and
//! prices come in as arguments, so every decision is reproducible. It knows
//! nothing of tokio, sqlx, axum, serde or Kafka (`tests/purity.rs` proves it
//! by reading `Cargo.toml`).
//!
//! Layout:
//! - [`time`]: `Timestamp`, milliseconds since the Unix epoch.
//! - [`ids`]: UUID-like ids, `SkuCode`, `Quantity`, `ShipmentId`.
//! - [`money`]: `Currency` and non-negative integer `Money`.
//! - [`limits`]: every named upper bound and the relations between them.
//! - [`account`]: `Email` and `Password`, the rules for a shopper's credentials.
//! - [`corrupt`]: `CorruptState`, returned when stored state breaks an invariant.
//! - Aggregates, each with one `Command`, one past-tense `Event` and one
//!   `Error` enum, `handle(&self, ..) -> Result<Vec<Event>, Error>` holding
//!   all decisions and `apply(&mut self, &Event)` holding none:
//!   - [`catalog`]: `Product`, a SKU's name, price and active flag.
//!   - [`inventory`]: `InventorySku`, stock and reservations of one SKU.
//!   - [`cart`]: `Cart`, a customer's basket up to checkout.
//!   - [`order`]: `Order`, the order state machine driven by the checkout saga.
//!
//! Every aggregate carries a `version` (events applied) for optimistic
//! concurrency, a `XSnapshot` with public fields for storage, and a
//! `restore` that checks invariants on the way back in.

pub mod account;
pub mod cart;
pub mod catalog;
pub mod corrupt;
pub mod ids;
pub mod inventory;
pub mod limits;
pub mod money;
pub mod order;
pub mod time;

pub use account::{Email, EmailError, Password, PasswordError};
pub use cart::{Cart, CartLine, CartSnapshot, CartStatus};
pub use catalog::{Product, ProductName, ProductSnapshot};
pub use corrupt::CorruptState;
pub use ids::{
    CartId, CustomerId, IdError, OrderId, PaymentId, Quantity, QuantityError, ReservationId,
    ShipmentId, ShipmentIdError, SkuCode, SkuError,
};
pub use inventory::{InventorySku, InventorySnapshot, Reservation, ReservationStatus};
pub use money::{Currency, Money, MoneyError};
pub use order::{
    AddressError, CountryCode, FailureReason, Order, OrderLine, OrderSnapshot, OrderStatus,
    Payment, PaymentStatus, ShippingAddress,
};
pub use time::Timestamp;
