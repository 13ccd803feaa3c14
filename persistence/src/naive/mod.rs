//! The classic-checkout baseline (`commerce serve --engine naive-sql`): the same use cases as
//! the actor engine, served the way most shops do it, so the two can be measured side by side.
//!
//! Every request runs against Postgres directly; nothing is held in memory between requests.
//! A checkout is ONE transaction that claims the idempotency key, writes the order, its lines,
//! its payment, its saga row and its outbox rows, and takes the stock off the hot inventory row
//! with `UPDATE inventory ... WHERE on_hand - reserved >= $q` — a row lock every concurrent buyer
//! of that SKU queues behind until the transaction commits. That queue is what the actor engine's
//! group commit removes, and what this engine exists to show.
//!
//! Same tables, same meaning, so the books verification reads both engines' runs alike:
//! - a confirmed order ends `fulfillment_requested` at version 5 with the same five order events
//!   the saga emits (placed, reserved, payment authorized, confirmed, fulfillment requested);
//! - each line has a reservation row (`committed`, id derived as `actors::saga::reservation_id`)
//!   and the SKU gets `inventory.reserved` and `inventory.committed`, one version each;
//! - the payment row is `authorized`, the saga row `completed`, the key completed with the answer.
//!
//! Deliberate differences, all on refusals: an out-of-stock request writes no order (the
//! transaction rolls back; only the key keeps its 409 answer, which therefore names no order),
//! and a declined or timed-out payment writes a failed order without touching stock (payment is
//! asked before the transaction, so a refusal never waits for the hot row's lock).
//!
//! Architecture note: this module makes the checkout's decisions with the domain aggregates
//! (`Order::handle`, `Cart::handle`), as a request-scoped classic service would; the actor
//! engine's invariant that persistence makes no business decision does not apply to it.

mod cancel;
mod checkout;
mod sql;

use std::sync::Arc;
use std::time::Duration;

use actors::ports::{
    CartChange, Clock, PaymentGateway, ProductChange, Recorded, ShippingGateway, Store,
};
use actors::{AppError, InventoryView};
use domain::{cart, catalog, inventory, order};
use domain::{Cart, CartId, Money, Order, OrderId, Product, ProductName, Quantity, SkuCode};
use sqlx::postgres::PgPool;

use crate::config::PoolConfig;
use crate::convert::to_u64;
use crate::error;
use crate::PgStore;

/// Timings of the naive engine's checkout.
#[derive(Clone, Debug)]
pub struct NaiveConfig {
    /// How long the payment provider may take before the attempt counts as failed.
    pub payment_timeout: Duration,
    /// The `expires_at` written on reservation rows. They are committed at once and never
    /// expire; the column is NOT NULL and means the same as in the actor engine.
    pub reservation_ttl: Duration,
}

/// The gateways and clock the engine calls, the same ports the actor engine is wired with.
pub struct NaiveGateways {
    pub payments: Arc<dyn PaymentGateway>,
    pub shipping: Arc<dyn ShippingGateway>,
    pub clock: Arc<dyn Clock>,
}

/// An idempotency key and the request it guards.
#[derive(Clone, Debug)]
pub struct KeyClaim {
    /// `buy_now` or `checkout:<cart id>`, as the actor engine's edge names them.
    pub scope: String,
    pub key: String,
    /// Hex SHA-256 of the canonical request, computed by the edge.
    pub request_hash: String,
}

/// A response as stored with its key and replayed byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// How answers are rendered for storing with a key. The HTTP edge owns the wire format and
/// passes its renderers in; this crate stores bytes.
#[derive(Clone, Copy, Debug)]
pub struct AnswerFormat {
    /// The answer for an order the request placed: 201, or the failure's problem.
    pub order: fn(&Order) -> StoredAnswer,
    /// The answer when there is not enough stock.
    pub out_of_stock: fn() -> StoredAnswer,
}

/// The outcome of an idempotent order placement.
#[derive(Debug)]
pub enum Placement {
    /// This request placed the order (confirmed, or failed for its payment).
    Placed(Box<Order>),
    /// Not enough stock: no order, no charge. The refusal is stored with the key.
    OutOfStock,
    /// The key was answered before: this is that answer.
    Replay(StoredAnswer),
    /// The key was used before with a different request.
    KeyReused,
    /// The key is claimed and not answered. This engine never leaves a key so (its claim and
    /// answer commit together), but a database shared with the actor engine may.
    InProgress,
}

/// The naive engine. Cheap to share behind an `Arc`.
pub struct NaiveSqlEngine {
    /// The actor engine's adapter, reused for single-aggregate reads and for the version-checked
    /// writes of cold aggregates (products, carts); its pool is `pool`.
    store: PgStore,
    /// Bounded by `PoolConfig::max_connections`: every concurrent checkout holds one connection
    /// for its whole transaction, so this is also the number of buyers queued on a hot row.
    pool: PgPool,
    gateways: NaiveGateways,
    config: NaiveConfig,
}

/// The refusal to serve the baseline without Postgres: it exists to measure row locks.
pub const POSTGRES_REQUIRED: &str =
    "the naive-sql engine runs on Postgres only: set DATABASE_URL=postgres://...";

impl NaiveSqlEngine {
    /// Connects and migrates, like the actor engine's Postgres store.
    pub async fn connect(
        database_url: Option<&str>,
        pool: &PoolConfig,
        gateways: NaiveGateways,
        config: NaiveConfig,
    ) -> Result<NaiveSqlEngine, actors::ports::StoreError> {
        let url = database_url
            .filter(|u| crate::is_postgres_url(u))
            .ok_or_else(|| actors::ports::StoreError::Other(POSTGRES_REQUIRED.to_owned()))?;
        let store = PgStore::connect(url, pool).await?;
        Ok(NaiveSqlEngine {
            pool: store.pool().clone(),
            store,
            gateways,
            config,
        })
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), AppError> {
        Ok(self.store.ping().await?)
    }

    pub async fn define_product(
        &self,
        sku: SkuCode,
        name: ProductName,
        price: Money,
        active: bool,
    ) -> Result<Product, AppError> {
        let mut product = self.store.load_product(&sku).await?;
        let expected_version = product.version();
        let define = catalog::Command::Define {
            name,
            price,
            active,
        };
        let events = decide(&mut product, &define, self.now())
            .map_err(|_| AppError::ProductNotFound(sku.clone()))?;
        let Some(snapshot) = product.try_snapshot().filter(|_| !events.is_empty()) else {
            return Ok(product);
        };
        let change = ProductChange {
            expected_version,
            product: snapshot,
            events,
        };
        self.store.commit_product(vec![change]).await?;
        Ok(product)
    }

    pub async fn product(&self, sku: SkuCode) -> Result<Product, AppError> {
        let product = self.store.load_product(&sku).await?;
        if product.exists() {
            Ok(product)
        } else {
            Err(AppError::ProductNotFound(sku))
        }
    }

    /// Adds stock in one statement: the upsert's row lock orders concurrent restocks and
    /// checkouts, and its WHERE keeps the domain's bound on units.
    pub async fn restock(
        &self,
        sku: SkuCode,
        quantity: Quantity,
    ) -> Result<InventoryView, AppError> {
        self.product(sku.clone()).await?;
        let units = i64::from(quantity.get());
        let max = crate::convert::to_i64(domain::limits::INVENTORY_UNITS_MAX, "units max")?;
        let mut tx = self.pool.begin().await.map_err(error::map)?;
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            "INSERT INTO inventory AS i (sku, on_hand, reserved, sold, version)
             VALUES ($1, $2, 0, 0, 1)
             ON CONFLICT (sku) DO UPDATE
             SET on_hand = i.on_hand + EXCLUDED.on_hand, version = i.version + 1
             WHERE i.on_hand + i.sold + EXCLUDED.on_hand <= $3
             RETURNING on_hand, reserved, sold, version",
        )
        .bind(sku.as_str())
        .bind(units)
        .bind(max)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error::map)?;
        let Some(row) = row.filter(|(on_hand, ..)| *on_hand <= max) else {
            return Err(AppError::Inventory(inventory::Error::StockOverflow));
        };
        let view = inventory_view(&sku, row)?;
        let restocked = recorded(
            view.version,
            self.now(),
            inventory::Event::Restocked { quantity },
        );
        let mut outbox = sql::Outbox::default();
        outbox.push("inventory", sku.as_str(), &[restocked])?;
        outbox.insert(&mut tx).await?;
        tx.commit().await.map_err(error::map)?;
        Ok(view)
    }

    /// The SKU's counters, read from its row alone: a hot SKU has a reservation row per sale,
    /// and the view needs none of them.
    pub async fn stock(&self, sku: SkuCode) -> Result<InventoryView, AppError> {
        self.product(sku.clone()).await?;
        let row: Option<(i64, i64, i64, i64)> =
            sqlx::query_as("SELECT on_hand, reserved, sold, version FROM inventory WHERE sku = $1")
                .bind(sku.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(error::map)?;
        inventory_view(&sku, row.unwrap_or((0, 0, 0, 0)))
    }

    pub async fn create_cart(&self) -> Result<Cart, AppError> {
        let id = CartId::from_u128(uuid::Uuid::new_v4().as_u128());
        self.cart_command(Cart::new(id), cart::Command::Create { customer: None })
            .await
    }

    pub async fn cart(&self, id: CartId) -> Result<Cart, AppError> {
        let cart = self.store.load_cart(id).await?;
        if cart.exists() {
            Ok(cart)
        } else {
            Err(AppError::CartNotFound)
        }
    }

    pub async fn add_item(
        &self,
        id: CartId,
        sku: SkuCode,
        quantity: Quantity,
    ) -> Result<Cart, AppError> {
        let cart = self.cart(id).await?;
        let unit_price = self.price_for_sale(&sku).await?;
        let add = cart::Command::AddItem {
            sku,
            quantity,
            unit_price,
        };
        self.cart_command(cart, add).await
    }

    pub async fn set_quantity(
        &self,
        id: CartId,
        sku: SkuCode,
        quantity: u32,
    ) -> Result<Cart, AppError> {
        let cart = self.cart(id).await?;
        self.cart_command(cart, cart::Command::SetQuantity { sku, quantity })
            .await
    }

    pub async fn remove_item(&self, id: CartId, sku: SkuCode) -> Result<Cart, AppError> {
        let cart = self.cart(id).await?;
        self.cart_command(cart, cart::Command::RemoveItem { sku })
            .await
    }

    /// Decides on the loaded cart and writes it under its version: a concurrent change to the
    /// same cart is a 409 `version_conflict`, never a lost update.
    async fn cart_command(&self, mut cart: Cart, command: cart::Command) -> Result<Cart, AppError> {
        let expected_version = cart.version();
        let events = decide(&mut cart, &command, self.now()).map_err(|e| match e {
            cart::Error::NotFound => AppError::CartNotFound,
            e => AppError::Cart(e),
        })?;
        if events.is_empty() {
            return Ok(cart);
        }
        let change = CartChange {
            expected_version,
            cart: cart.snapshot(),
            events,
        };
        self.store.commit_cart(vec![change]).await?;
        Ok(cart)
    }

    pub async fn order(&self, id: OrderId) -> Result<Order, AppError> {
        let order = self.store.load_order(id).await?;
        if order.exists() {
            Ok(order)
        } else {
            Err(AppError::OrderNotFound)
        }
    }

    /// The price of a SKU that is for sale, as the actor engine's `product_for_sale` decides it.
    async fn price_for_sale(&self, sku: &SkuCode) -> Result<Money, AppError> {
        let product = self.store.load_product(sku).await?;
        match (product.exists(), product.price()) {
            (true, Some(price)) if product.active() => Ok(price),
            (true, Some(_)) => Err(AppError::ProductInactive(sku.clone())),
            _ => Err(AppError::ProductNotFound(sku.clone())),
        }
    }

    fn now(&self) -> domain::Timestamp {
        self.gateways.clock.now()
    }
}

fn inventory_view(sku: &SkuCode, row: (i64, i64, i64, i64)) -> Result<InventoryView, AppError> {
    let (on_hand, reserved, sold, version) = row;
    let on_hand = to_u64(on_hand, "inventory on_hand")?;
    let reserved = to_u64(reserved, "inventory reserved")?;
    Ok(InventoryView {
        sku: sku.clone(),
        on_hand,
        reserved,
        available: on_hand.saturating_sub(reserved),
        sold: to_u64(sold, "inventory sold")?,
        version: to_u64(version, "inventory version")?,
        reservation: None,
    })
}

/// An event as the outbox records it, at the aggregate version it produced.
fn recorded<E>(sequence: u64, now: domain::Timestamp, event: E) -> Recorded<E> {
    Recorded {
        event_id: actors::ports::new_event_id(),
        sequence,
        occurred_at: now,
        event,
    }
}

/// An aggregate the engine decides on: the domain's `handle` and `apply`, under one name.
trait Decide {
    type Command;
    type Event;
    type Error;
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    fn fold(&mut self, event: &Self::Event);
    fn version(&self) -> u64;
}

/// Runs `command`, applies its events and returns them numbered with the versions they
/// produced, as the actor engine's hosting does.
fn decide<A: Decide>(
    aggregate: &mut A,
    command: &A::Command,
    now: domain::Timestamp,
) -> Result<Vec<Recorded<A::Event>>, A::Error> {
    let events = aggregate.decide(command)?;
    Ok(events
        .into_iter()
        .map(|event| {
            aggregate.fold(&event);
            recorded(aggregate.version(), now, event)
        })
        .collect())
}

impl Decide for Order {
    type Command = order::Command;
    type Event = order::Event;
    type Error = order::Error;
    fn decide(&self, command: &order::Command) -> Result<Vec<order::Event>, order::Error> {
        self.handle(command)
    }
    fn fold(&mut self, event: &order::Event) {
        self.apply(event)
    }
    fn version(&self) -> u64 {
        Order::version(self)
    }
}

impl Decide for Cart {
    type Command = cart::Command;
    type Event = cart::Event;
    type Error = cart::Error;
    fn decide(&self, command: &cart::Command) -> Result<Vec<cart::Event>, cart::Error> {
        self.handle(command)
    }
    fn fold(&mut self, event: &cart::Event) {
        self.apply(event)
    }
    fn version(&self) -> u64 {
        Cart::version(self)
    }
}

impl Decide for Product {
    type Command = catalog::Command;
    type Event = catalog::Event;
    type Error = catalog::Error;
    fn decide(&self, command: &catalog::Command) -> Result<Vec<catalog::Event>, catalog::Error> {
        self.handle(command)
    }
    fn fold(&mut self, event: &catalog::Event) {
        self.apply(event)
    }
    fn version(&self) -> u64 {
        Product::version(self)
    }
}
