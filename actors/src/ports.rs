//! The ports the application needs from the world, as traits, plus the plain data that crosses
//! them. Adapters (the `persistence` crate, the sandbox gateways) implement them; `bootstrap`
//! wires them. Everything here speaks domain types; rows and JSON live in the adapters.

use async_trait::async_trait;
use domain::cart::{self, CartSnapshot};
use domain::catalog::{self, ProductSnapshot};
use domain::inventory::{self, Reservation};
use domain::order::{self, OrderSnapshot};
use domain::{
    Cart, CartId, CustomerId, Email, InventorySku, Money, Order, OrderId, PaymentId, Product,
    ShipmentId, SkuCode, Timestamp,
};
pub use runtime::StoreError;

/// One event as it is committed to the outbox: its identity, its place in the aggregate's
/// sequence, and when it was decided.
#[derive(Clone, Debug)]
pub struct Recorded<E> {
    /// Globally unique (a UUID); the outbox row's id and, later, the Kafka message id.
    pub event_id: u128,
    /// The aggregate's version after this event: 1, 2, 3... with no gaps per aggregate.
    pub sequence: u64,
    pub occurred_at: Timestamp,
    pub event: E,
}

/// A new event id: a time-ordered UUID (version 7), so the indexes keyed by event id (the
/// outbox's primary key, the consumers' inboxes) grow at their right edge instead of taking
/// each insert at a random page. Unique all the same: 74 random bits per millisecond.
pub fn new_event_id() -> u128 {
    uuid::Uuid::now_v7().as_u128()
}

/// The effect of one accepted product command.
#[derive(Clone, Debug)]
pub struct ProductChange {
    pub expected_version: u64,
    pub product: ProductSnapshot,
    pub events: Vec<Recorded<catalog::Event>>,
}

/// The inventory row's counters after a change; the reservations travel separately because a
/// hot SKU holds many and a change touches one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InventoryCounters {
    pub on_hand: u64,
    pub reserved: u64,
    pub sold: u64,
    pub version: u64,
}

/// The effect of one accepted inventory command.
#[derive(Clone, Debug)]
pub struct InventoryChange {
    pub sku: SkuCode,
    pub expected_version: u64,
    pub counters: InventoryCounters,
    /// The reservations this change created or moved, in their state after it.
    pub reservations: Vec<Reservation>,
    pub events: Vec<Recorded<inventory::Event>>,
}

/// The effect of one accepted cart command.
#[derive(Clone, Debug)]
pub struct CartChange {
    pub expected_version: u64,
    pub cart: CartSnapshot,
    pub events: Vec<Recorded<cart::Event>>,
}

/// The effect of one accepted order command (payments included: they are part of the order).
#[derive(Clone, Debug)]
pub struct OrderChange {
    pub expected_version: u64,
    pub order: OrderSnapshot,
    pub events: Vec<Recorded<order::Event>>,
    /// The checkout saga's new record, written in the same transaction: a saga step and the
    /// order change it made are durable together or not at all.
    pub saga: Option<SagaRecord>,
}

/// Where the checkout saga of one order stands. Persisted before each next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaStep {
    /// Order placed; reserving stock and authorizing payment next.
    Started,
    /// Stock reserved, payment authorized, order confirmed; committing stock and requesting
    /// shipment next.
    Confirmed,
    /// Shipment requested: the saga is done.
    Completed,
    /// Releasing stock and voiding payment after a failure or a cancellation.
    Compensating,
    /// Compensation done: the order is failed or cancelled and its stock released.
    Failed,
}

impl SagaStep {
    pub fn as_str(self) -> &'static str {
        match self {
            SagaStep::Started => "started",
            SagaStep::Confirmed => "confirmed",
            SagaStep::Completed => "completed",
            SagaStep::Compensating => "compensating",
            SagaStep::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<SagaStep> {
        [
            SagaStep::Started,
            SagaStep::Confirmed,
            SagaStep::Completed,
            SagaStep::Compensating,
            SagaStep::Failed,
        ]
        .into_iter()
        .find(|step| step.as_str() == s)
    }

    /// Whether the saga has nothing left to do.
    pub fn is_terminal(self) -> bool {
        matches!(self, SagaStep::Completed | SagaStep::Failed)
    }
}

/// The persisted state of one checkout saga.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaRecord {
    pub order_id: OrderId,
    pub cart_id: Option<CartId>,
    pub step: SagaStep,
    /// The payment method token the shopper gave; a provider token, never card data.
    pub payment_token: String,
    /// Why it failed, when compensating or failed (`domain::order::FailureReason::as_str`).
    pub failure_reason: Option<String>,
    pub started_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A shopper's account as stored: the password only as its hash (a PHC string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    pub customer: CustomerId,
    pub email: Email,
    /// Argon2id in the PHC string format (algorithm, parameters, salt and hash in one string),
    /// so parameters can be raised later without breaking existing accounts.
    pub password_hash: String,
    pub created_at: Timestamp,
}

/// A login session as stored. The token itself is never stored, only its SHA-256 digest, so a
/// copy of the table lets no one in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_digest: String,
    pub customer: CustomerId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The result of creating an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountCreated {
    Created,
    /// Another account already has this email; nothing was written.
    EmailTaken,
}

/// Accounts and sessions. Every `Store` is one too, so the accounts share the store's database
/// and its availability.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn create_account(&self, account: &AccountRecord) -> Result<AccountCreated, StoreError>;
    async fn account_by_email(&self, email: &Email) -> Result<Option<AccountRecord>, StoreError>;
    async fn account(&self, customer: CustomerId) -> Result<Option<AccountRecord>, StoreError>;
    /// Stores a new session in one transaction that also drops the account's expired sessions
    /// and, beyond `per_account_max`, its oldest ones, so sessions per account stay bounded.
    async fn create_session(
        &self,
        session: &SessionRecord,
        per_account_max: u32,
    ) -> Result<(), StoreError>;
    /// The session with this token digest, if it exists and has not expired at `now`.
    async fn session(
        &self,
        token_digest: &str,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Revokes a session; revoking an unknown one is not an error (logout is idempotent).
    async fn delete_session(&self, token_digest: &str) -> Result<(), StoreError>;
}

/// The result of claiming an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// New key: the caller owns it and must complete or release it.
    Claimed,
    /// Seen before with the same request, and answered: replay this response.
    Completed { status: u16, body: Vec<u8> },
    /// Seen before with the same request, still being processed (for this order).
    InProgress { order_id: OrderId },
    /// Seen before with a different request.
    Mismatch,
}

/// Persistence of all aggregates, sagas and idempotency keys. Every `commit_*` writes the state,
/// the version check and the outbox rows of all its changes in one transaction; a version that
/// is not `expected_version` of the first change fails the whole call with `StoreError::Conflict`.
#[async_trait]
pub trait Store: AccountStore + Send + Sync + 'static {
    /// Whether the store answers at all (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    async fn load_product(&self, sku: &SkuCode) -> Result<Product, StoreError>;
    async fn commit_product(&self, changes: Vec<ProductChange>) -> Result<(), StoreError>;
    /// Group commit: the batches of several products, one result per batch, in order. One
    /// batch's failure (a version conflict, say) must not fail the others. The default commits
    /// them one by one; adapters put them in one transaction.
    async fn commit_products_many(
        &self,
        batches: Vec<Vec<ProductChange>>,
    ) -> Vec<Result<(), StoreError>> {
        let mut results = Vec::with_capacity(batches.len());
        for batch in batches {
            results.push(self.commit_product(batch).await);
        }
        results
    }

    async fn load_inventory(&self, sku: &SkuCode) -> Result<InventorySku, StoreError>;
    async fn commit_inventory(&self, changes: Vec<InventoryChange>) -> Result<(), StoreError>;
    /// Group commit of several SKUs' batches; see `commit_products_many`.
    async fn commit_inventory_many(
        &self,
        batches: Vec<Vec<InventoryChange>>,
    ) -> Vec<Result<(), StoreError>> {
        let mut results = Vec::with_capacity(batches.len());
        for batch in batches {
            results.push(self.commit_inventory(batch).await);
        }
        results
    }
    /// SKUs that have Held reservations expiring at or before `now`, at most `limit`.
    async fn skus_with_expired_reservations(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<SkuCode>, StoreError>;

    async fn load_cart(&self, id: CartId) -> Result<Cart, StoreError>;
    async fn commit_cart(&self, changes: Vec<CartChange>) -> Result<(), StoreError>;
    /// Group commit of several carts' batches; see `commit_products_many`.
    async fn commit_carts_many(
        &self,
        batches: Vec<Vec<CartChange>>,
    ) -> Vec<Result<(), StoreError>> {
        let mut results = Vec::with_capacity(batches.len());
        for batch in batches {
            results.push(self.commit_cart(batch).await);
        }
        results
    }

    async fn load_order(&self, id: OrderId) -> Result<Order, StoreError>;
    async fn commit_order(&self, changes: Vec<OrderChange>) -> Result<(), StoreError>;
    /// Group commit of several orders' batches; see `commit_products_many`.
    async fn commit_orders_many(
        &self,
        batches: Vec<Vec<OrderChange>>,
    ) -> Vec<Result<(), StoreError>> {
        let mut results = Vec::with_capacity(batches.len());
        for batch in batches {
            results.push(self.commit_order(batch).await);
        }
        results
    }

    /// Inserts or updates the saga of `record.order_id`.
    async fn save_saga(&self, record: &SagaRecord) -> Result<(), StoreError>;
    async fn load_saga(&self, order_id: OrderId) -> Result<Option<SagaRecord>, StoreError>;
    /// Sagas not in a terminal step, oldest first, at most `limit`.
    async fn sagas_in_flight(&self, limit: u32) -> Result<Vec<SagaRecord>, StoreError>;

    /// Claims `key` in `scope` for a request whose canonical body hashes to `request_hash`.
    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        order_id: OrderId,
        now: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError>;
    /// Records the response of a claimed key so retries replay it.
    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError>;
    /// Forgets every claimed, unanswered key whose order never started a saga: its request
    /// died before doing anything (the previous process crashed). Run at start-up only, when
    /// no request of this process can hold such a key. Returns how many were released.
    async fn release_abandoned_idempotency_keys(&self) -> Result<u64, StoreError>;
    /// Forgets a claimed key whose request failed without effect, so a retry may run again.
    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError>;
}

/// A payment provider's answer to an authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization {
    Approved { payment_id: PaymentId },
    Declined { reason: String },
}

/// Why a gateway call produced no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("the provider failed: {0}")]
    Failed(String),
}

/// A payment provider. Calls are idempotent by `order_id`: retrying an authorization for the same
/// order returns the first answer and never charges twice.
#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    async fn authorize(
        &self,
        order_id: OrderId,
        amount: Money,
        token: &str,
    ) -> Result<Authorization, GatewayError>;
    /// Voids the order's authorization. `payment_id` is `None` when a crash lost it: the
    /// provider then voids whatever it authorized for `order_id`, if anything.
    async fn void(
        &self,
        order_id: OrderId,
        payment_id: Option<PaymentId>,
    ) -> Result<(), GatewayError>;
}

/// A shipping provider. Idempotent by `order_id`: one shipment per order however often asked.
#[async_trait]
pub trait ShippingGateway: Send + Sync + 'static {
    async fn request_shipment(
        &self,
        order_id: OrderId,
        order: &Order,
    ) -> Result<ShipmentId, GatewayError>;
    /// Withdraws the order's shipment request, if there is one. By order id, like a void: a
    /// crash may have lost the shipment id, and withdrawing twice, or what was never
    /// requested, is no error.
    async fn cancel_shipment(&self, order_id: OrderId) -> Result<(), GatewayError>;
}

/// The wall clock, as a port so tests can control time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Timestamp::from_unix_ms(ms)
    }
}

/// One order as the order-list read model shows it: denormalized, eventually consistent with
/// the order aggregate (it is projected from the event stream, not read from the order's row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderSummary {
    pub order_id: OrderId,
    pub customer_id: Option<domain::CustomerId>,
    /// The order's status as the last projected event left it (`placed`, `confirmed`, ...).
    pub status: String,
    pub total: Money,
    pub line_count: u32,
    pub item_count: u64,
    pub placed_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A page of a customer's orders, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    /// Opaque; pass it back to get the next page. `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One notification as recorded for a customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationSummary {
    pub notification_id: u128,
    pub order_id: OrderId,
    /// `order_confirmed`, `order_failed`, `order_cancelled` or `order_shipped`.
    pub kind: String,
    pub message: String,
    pub created_at: Timestamp,
}

/// Why a read-model query failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ReadModelError {
    /// The cursor was not one this service handed out.
    #[error("invalid cursor")]
    InvalidCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Queries of the read models the event consumers maintain (the `relay` crate implements it).
#[async_trait]
pub trait ReadModels: Send + Sync + 'static {
    /// A customer's orders, newest first, at most `limit`, after `cursor` if given.
    async fn customer_orders(
        &self,
        customer: domain::CustomerId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<OrderPage, ReadModelError>;
    /// The orders that include `sku` (for sellers), newest first, at most `limit`, after
    /// `cursor` if given.
    async fn sku_orders(
        &self,
        sku: &SkuCode,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<OrderPage, ReadModelError>;
    /// A customer's notifications, newest first, at most `limit`.
    async fn customer_notifications(
        &self,
        customer: domain::CustomerId,
        limit: u32,
    ) -> Result<Vec<NotificationSummary>, ReadModelError>;
}

#[cfg(test)]
mod tests {
    use super::new_event_id;

    #[test]
    fn event_ids_are_version_7_uuids_ordered_by_time() {
        let first = new_event_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = new_event_id();

        assert_eq!(uuid::Uuid::from_u128(first).get_version_num(), 7);
        assert_eq!(uuid::Uuid::from_u128(later).get_version_num(), 7);
        // Postgres compares UUIDs byte by byte, which is this order.
        assert!(first < later, "{first:x} then {later:x}");
    }
}
