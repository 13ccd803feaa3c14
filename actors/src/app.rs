//! The application facade: the use cases the HTTP edge calls. It owns one sharding per aggregate
//! kind and the ports, and runs the background work (saga recovery, reservation expiry).

use crate::accounts::{Accounts, AccountsConfig};
use crate::aggregates::{InventoryCommand, InventoryView, OrderCommand};
use crate::error::AppError;
use crate::hosted::{Aggregate, Ask, Hosted, HostedStore};
use crate::ports::{Clock, PaymentGateway, SagaRecord, SagaStep, ShippingGateway, Store};
use crate::saga::{self, CheckoutPlan};
use domain::order::{OrderLine, ShippingAddress};
use domain::{cart, catalog, inventory, order};
use domain::{
    Cart, CartId, CustomerId, InventorySku, Money, Order, OrderId, Product, ProductName, Quantity,
    SkuCode,
};
use runtime::{ActorSystem, DispatchError, KindStatsSnapshot, RuntimeConfig, Sharding};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Timings of the use cases.
#[derive(Clone, Debug)]
pub struct CommerceConfig {
    /// How long a checkout's reservation holds stock before it expires and the stock returns.
    pub reservation_ttl: Duration,
    /// How long the payment provider may take before the attempt counts as failed.
    pub payment_timeout: Duration,
    /// How often overdue reservations are swept.
    pub expiry_sweep_interval: Duration,
    /// A saga untouched this long is considered stuck and resumed by the recovery loop.
    pub saga_stuck_after: Duration,
    /// How often the recovery loop looks for stuck sagas.
    pub recovery_interval: Duration,
    /// Upper bound of sagas or SKUs handled per background pass.
    pub background_batch_max: u32,
    /// How long a saga step, once its order is placed, waits for room in a full mailbox before
    /// it gives up and leaves the saga to the recovery loop. New work is shed at once; work
    /// already promised to a placed order is not.
    pub saga_step_overload_wait: Duration,
    /// Sessions, token lifetime and password hashing.
    pub accounts: AccountsConfig,
}

impl Default for CommerceConfig {
    fn default() -> Self {
        CommerceConfig {
            reservation_ttl: Duration::from_secs(15 * 60),
            payment_timeout: Duration::from_secs(2),
            expiry_sweep_interval: Duration::from_secs(5),
            saga_stuck_after: Duration::from_secs(60),
            recovery_interval: Duration::from_secs(10),
            background_batch_max: 100,
            saga_step_overload_wait: Duration::from_secs(2),
            accounts: AccountsConfig::default(),
        }
    }
}

/// Who is asking: a guest (no token) or a logged-in customer. Guest carts and guest orders are
/// reachable by anyone holding their unguessable id; a customer's only with that customer's
/// token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shopper {
    Guest,
    Customer(CustomerId),
}

impl Shopper {
    /// The customer to record on a new cart or order.
    pub fn customer(self) -> Option<CustomerId> {
        match self {
            Shopper::Guest => None,
            Shopper::Customer(customer) => Some(customer),
        }
    }

    /// Whether this shopper may reach something owned by `owner` (`None`: a guest's).
    pub fn may_reach(self, owner: Option<CustomerId>) -> bool {
        match owner {
            None => true,
            Some(owner) => self == Shopper::Customer(owner),
        }
    }
}

/// The ports the facade is wired with.
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub payments: Arc<dyn PaymentGateway>,
    pub shipping: Arc<dyn ShippingGateway>,
    pub clock: Arc<dyn Clock>,
}

pub struct Inner {
    pub(crate) products: Sharding<Hosted<Product>>,
    pub(crate) stock: Sharding<Hosted<InventorySku>>,
    pub(crate) carts: Sharding<Hosted<Cart>>,
    pub(crate) orders: Sharding<Hosted<Order>>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) payments: Arc<dyn PaymentGateway>,
    pub(crate) shipping: Arc<dyn ShippingGateway>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: CommerceConfig,
    pub(crate) accounts: Accounts,
    /// The checkouts this process is driving right now, by order id. Recovery leaves these
    /// alone: a saga that is slow (waiting for a provider or a full mailbox) is not stuck, and
    /// compensating it under its running task would fail an order about to be confirmed. At
    /// most one entry per running checkout task, which the HTTP concurrency bound and the
    /// actors' mailboxes bound; a `DashMap` because every checkout enters and leaves it.
    pub(crate) running_sagas: dashmap::DashMap<OrderId, ()>,
}

/// The use cases. Cheap to clone.
#[derive(Clone)]
pub struct Commerce {
    pub(crate) inner: Arc<Inner>,
}

fn sharding<A: Aggregate>(
    system: &ActorSystem,
    config: &RuntimeConfig,
    ports: &Ports,
) -> Sharding<Hosted<A>> {
    let store = Arc::new(HostedStore::<A>::new(
        ports.store.clone(),
        ports.clock.clone(),
    ));
    Sharding::new(system, config.clone(), store)
}

async fn ask<A: Aggregate>(
    sharding: &Sharding<Hosted<A>>,
    id: A::Id,
    ask: Ask<A>,
    rejected: impl FnOnce(A::Error) -> AppError,
) -> Result<A::View, AppError> {
    sharding.ask(id, ask).await?.map_err(rejected)
}

/// [`ask`] for an id the caller just generated: the actor starts from the aggregate's fresh
/// state instead of loading a row that cannot exist.
pub(crate) async fn ask_new<A: Aggregate>(
    sharding: &Sharding<Hosted<A>>,
    id: A::Id,
    ask: Ask<A>,
    rejected: impl FnOnce(A::Error) -> AppError,
) -> Result<A::View, AppError> {
    sharding.ask_new(id, ask).await?.map_err(rejected)
}

/// An ask on behalf of a saga whose order is already placed. A full mailbox is waited out,
/// pausing 5 ms and doubling up to 100 ms, for at most `wait`, instead of failing the step:
/// shedding protects the service from new work, and this work was promised. Anything else, and
/// a mailbox that stays full past `wait`, is answered as by [`ask`].
async fn patient_ask<A: Aggregate>(
    sharding: &Sharding<Hosted<A>>,
    id: A::Id,
    command: A::Command,
    rejected: impl FnOnce(A::Error) -> AppError,
    wait: Duration,
) -> Result<A::View, AppError>
where
    A::Command: Clone,
{
    let deadline = tokio::time::Instant::now() + wait;
    let mut pause = PATIENT_PAUSE_MIN;
    loop {
        match sharding
            .ask(id.clone(), Ask::Execute(command.clone()))
            .await
        {
            Err(DispatchError::Overloaded(what))
                if tokio::time::Instant::now() + pause < deadline =>
            {
                metrics::counter!("saga_step_overload_waits_total", "bound" => what).increment(1);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(PATIENT_PAUSE_MAX);
            }
            answer => return answer?.map_err(rejected),
        }
    }
}

const PATIENT_PAUSE_MIN: Duration = Duration::from_millis(5);
const PATIENT_PAUSE_MAX: Duration = Duration::from_millis(100);

impl Inner {
    /// The saga's steps after placement: [`Inner::order_with_saga`], [`Inner::cart`] and
    /// [`Inner::inventory`] that wait out a full mailbox (see [`patient_ask`]).
    pub(crate) async fn saga_order(
        &self,
        id: OrderId,
        steps: Vec<order::Command>,
        record: &mut SagaRecord,
    ) -> Result<Order, AppError> {
        record.updated_at = self.clock.now();
        let command = OrderCommand::with_saga(steps, record.clone());
        let wait = self.config.saga_step_overload_wait;
        patient_ask(&self.orders, id, command, AppError::Order, wait).await
    }

    pub(crate) async fn saga_cart(
        &self,
        id: CartId,
        command: cart::Command,
    ) -> Result<Cart, AppError> {
        let wait = self.config.saga_step_overload_wait;
        patient_ask(&self.carts, id, command, AppError::Cart, wait).await
    }

    pub(crate) async fn saga_inventory(
        &self,
        sku: SkuCode,
        command: InventoryCommand,
    ) -> Result<InventoryView, AppError> {
        let wait = self.config.saga_step_overload_wait;
        patient_ask(&self.stock, sku, command, AppError::Inventory, wait).await
    }

    /// Runs `steps` on the order as one change that also writes `record` (stamped now).
    pub(crate) async fn order_with_saga(
        &self,
        id: OrderId,
        steps: Vec<order::Command>,
        record: &mut SagaRecord,
    ) -> Result<Order, AppError> {
        record.updated_at = self.clock.now();
        let command = OrderCommand::with_saga(steps, record.clone());
        ask(&self.orders, id, Ask::Execute(command), AppError::Order).await
    }

    pub(crate) async fn load_order(&self, id: OrderId) -> Result<Option<Order>, AppError> {
        let order = ask(&self.orders, id, Ask::Get, AppError::Order).await?;
        Ok(order.exists().then_some(order))
    }

    pub(crate) async fn get_order(&self, id: OrderId) -> Result<Order, AppError> {
        self.load_order(id).await?.ok_or(AppError::OrderNotFound)
    }

    pub(crate) async fn cart(&self, id: CartId, command: cart::Command) -> Result<Cart, AppError> {
        ask(&self.carts, id, Ask::Execute(command), AppError::Cart).await
    }

    pub(crate) async fn inventory(
        &self,
        sku: SkuCode,
        command: InventoryCommand,
    ) -> Result<InventoryView, AppError> {
        ask(&self.stock, sku, Ask::Execute(command), AppError::Inventory).await
    }

    async fn product_for_sale(&self, sku: &SkuCode) -> Result<(Product, Money), AppError> {
        let product = ask(&self.products, sku.clone(), Ask::Get, |_| {
            AppError::ProductNotFound(sku.clone())
        })
        .await?;
        match (product.exists(), product.price()) {
            (true, Some(price)) if product.active() => Ok((product, price)),
            (true, Some(_)) => Err(AppError::ProductInactive(sku.clone())),
            _ => Err(AppError::ProductNotFound(sku.clone())),
        }
    }
}

impl Commerce {
    pub fn new(
        system: &ActorSystem,
        runtime: &RuntimeConfig,
        config: CommerceConfig,
        ports: Ports,
    ) -> Commerce {
        let accounts = Accounts::new(
            ports.store.clone(),
            ports.clock.clone(),
            config.accounts.clone(),
        );
        let inner = Inner {
            products: sharding(system, runtime, &ports),
            stock: sharding(system, runtime, &ports),
            carts: sharding(system, runtime, &ports),
            orders: sharding(system, runtime, &ports),
            store: ports.store,
            payments: ports.payments,
            shipping: ports.shipping,
            clock: ports.clock,
            config,
            accounts,
            running_sagas: dashmap::DashMap::new(),
        };
        Commerce {
            inner: Arc::new(inner),
        }
    }

    /// Sign-up, login sessions and bearer tokens.
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn now(&self) -> domain::Timestamp {
        self.inner.clock.now()
    }

    /// Whether the store answers.
    pub async fn ready(&self) -> Result<(), AppError> {
        Ok(self.inner.store.ping().await?)
    }

    pub async fn define_product(
        &self,
        sku: SkuCode,
        name: ProductName,
        price: Money,
        active: bool,
    ) -> Result<Product, AppError> {
        let define = catalog::Command::Define {
            name,
            price,
            active,
        };
        ask(
            &self.inner.products,
            sku.clone(),
            Ask::Execute(define),
            |_| AppError::ProductNotFound(sku.clone()),
        )
        .await
    }

    pub async fn product(&self, sku: SkuCode) -> Result<Product, AppError> {
        let product = ask(&self.inner.products, sku.clone(), Ask::Get, |_| {
            AppError::ProductNotFound(sku.clone())
        })
        .await?;
        if product.exists() {
            Ok(product)
        } else {
            Err(AppError::ProductNotFound(sku))
        }
    }

    pub async fn restock(
        &self,
        sku: SkuCode,
        quantity: Quantity,
    ) -> Result<InventoryView, AppError> {
        self.product(sku.clone()).await?;
        let restock = InventoryCommand::Domain(inventory::Command::Restock { quantity });
        self.inner.inventory(sku, restock).await
    }

    pub async fn stock(&self, sku: SkuCode) -> Result<InventoryView, AppError> {
        self.product(sku.clone()).await?;
        ask(&self.inner.stock, sku, Ask::Get, AppError::Inventory).await
    }

    pub async fn create_cart(&self, customer: Option<CustomerId>) -> Result<Cart, AppError> {
        let id = CartId::from_u128(uuid::Uuid::new_v4().as_u128());
        let create = Ask::Execute(cart::Command::Create { customer });
        ask_new(&self.inner.carts, id, create, AppError::Cart).await
    }

    pub async fn cart(&self, id: CartId) -> Result<Cart, AppError> {
        let cart = ask(&self.inner.carts, id, Ask::Get, AppError::Cart).await?;
        if cart.exists() {
            Ok(cart)
        } else {
            Err(AppError::CartNotFound)
        }
    }

    /// The cart, if `shopper` may reach it; another shopper's cart is `CartNotFound`, exactly as
    /// if it did not exist, so cart ids cannot be confirmed by probing.
    pub async fn cart_for(&self, shopper: Shopper, id: CartId) -> Result<Cart, AppError> {
        let cart = self.cart(id).await?;
        if shopper.may_reach(cart.customer()) {
            Ok(cart)
        } else {
            Err(AppError::CartNotFound)
        }
    }

    /// The order, if `shopper` may reach it (see [`Commerce::cart_for`]).
    pub async fn order_for(&self, shopper: Shopper, id: OrderId) -> Result<Order, AppError> {
        let order = self.order(id).await?;
        if shopper.may_reach(order.customer()) {
            Ok(order)
        } else {
            Err(AppError::OrderNotFound)
        }
    }

    /// Gives an open guest cart to `customer` (login with a guest cart). A cart that does not
    /// exist or belongs to someone else is `CartNotFound`.
    pub async fn claim_cart(&self, id: CartId, customer: CustomerId) -> Result<Cart, AppError> {
        match self
            .cart_command(id, cart::Command::Claim { customer })
            .await
        {
            Err(AppError::Cart(cart::Error::OwnedByAnother)) => Err(AppError::CartNotFound),
            other => other,
        }
    }

    /// Adds units of `sku` to the cart, if `shopper` may reach it (see [`Commerce::cart_for`]).
    pub async fn add_item(
        &self,
        shopper: Shopper,
        id: CartId,
        sku: SkuCode,
        quantity: Quantity,
    ) -> Result<Cart, AppError> {
        self.cart_for(shopper, id).await?;
        let (_, unit_price) = self.inner.product_for_sale(&sku).await?;
        self.cart_command(
            id,
            cart::Command::AddItem {
                sku,
                quantity,
                unit_price,
            },
        )
        .await
    }

    /// Sets a line's quantity (zero removes it), if `shopper` may reach the cart.
    pub async fn set_quantity(
        &self,
        shopper: Shopper,
        id: CartId,
        sku: SkuCode,
        quantity: u32,
    ) -> Result<Cart, AppError> {
        self.cart_for(shopper, id).await?;
        self.cart_command(id, cart::Command::SetQuantity { sku, quantity })
            .await
    }

    /// Removes a line, if `shopper` may reach the cart.
    pub async fn remove_item(
        &self,
        shopper: Shopper,
        id: CartId,
        sku: SkuCode,
    ) -> Result<Cart, AppError> {
        self.cart_for(shopper, id).await?;
        self.cart_command(id, cart::Command::RemoveItem { sku })
            .await
    }

    async fn cart_command(&self, id: CartId, command: cart::Command) -> Result<Cart, AppError> {
        match self.inner.cart(id, command).await {
            Err(AppError::Cart(cart::Error::NotFound)) => Err(AppError::CartNotFound),
            other => other,
        }
    }

    /// Checks out a cart as order `order_id`. Returns the order in its final state: confirmed
    /// with fulfillment requested, or failed with the reason (out of stock, payment declined...).
    pub async fn checkout(
        &self,
        cart_id: CartId,
        order_id: OrderId,
        payment_token: String,
        shipping_address: ShippingAddress,
    ) -> Result<Order, AppError> {
        let cart = self
            .cart_command(cart_id, cart::Command::BeginCheckout { order_id })
            .await?;
        let lines = cart
            .lines()
            .iter()
            .map(|l| OrderLine::new(l.sku().clone(), l.quantity(), l.unit_price()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(AppError::Money)?;
        let plan = CheckoutPlan {
            order_id,
            cart_id: Some(cart_id),
            customer: cart.customer(),
            lines,
            shipping_address,
            payment_token,
        };
        saga::start(&self.inner, plan).await
    }

    /// Places an order directly from SKUs and quantities (the flash-sale "buy now" button),
    /// through the same saga as a cart checkout.
    pub async fn buy_now(
        &self,
        order_id: OrderId,
        customer: Option<CustomerId>,
        items: Vec<(SkuCode, Quantity)>,
        payment_token: String,
        shipping_address: ShippingAddress,
    ) -> Result<Order, AppError> {
        let mut lines = Vec::with_capacity(items.len());
        for (sku, quantity) in items {
            let (_, price) = self.inner.product_for_sale(&sku).await?;
            lines.push(OrderLine::new(sku, quantity, price).map_err(AppError::Money)?);
        }
        let plan = CheckoutPlan {
            order_id,
            cart_id: None,
            customer,
            lines,
            shipping_address,
            payment_token,
        };
        saga::start(&self.inner, plan).await
    }

    pub async fn order(&self, id: OrderId) -> Result<Order, AppError> {
        self.inner.get_order(id).await
    }

    /// Cancels an order that has not shipped: the stock goes back and the payment is voided.
    /// The cancellation and the saga's move to compensating commit together, so a crash midway
    /// is finished by recovery.
    pub async fn cancel_order(&self, id: OrderId) -> Result<Order, AppError> {
        let current = self.order(id).await?;
        let now = self.inner.clock.now();
        let mut record = self.inner.store.load_saga(id).await?.unwrap_or(SagaRecord {
            order_id: id,
            cart_id: current.cart_id(),
            step: SagaStep::Compensating,
            payment_token: String::new(),
            failure_reason: None,
            started_at: now,
            updated_at: now,
        });
        record.step = SagaStep::Compensating;
        record.failure_reason = Some("cancelled".to_string());
        let cancel = vec![order::Command::Cancel];
        let cancelled = self.inner.order_with_saga(id, cancel, &mut record).await?;
        saga::compensate(&self.inner, record, cancelled).await
    }

    /// Resumes or compensates sagas untouched for `older_than`. At start-up `older_than` is zero:
    /// every saga in flight belonged to the previous process.
    pub async fn recover_sagas(&self, older_than: Duration) -> Result<usize, AppError> {
        let cutoff = self
            .inner
            .clock
            .now()
            .plus_ms(-(older_than.as_millis() as i64));
        let records = self
            .inner
            .store
            .sagas_in_flight(self.inner.config.background_batch_max)
            .await?;
        let mut recovered = 0;
        let stuck = records.into_iter().filter(|r| {
            r.updated_at <= cutoff && !self.inner.running_sagas.contains_key(&r.order_id)
        });
        for record in stuck {
            let order_id = record.order_id;
            match saga::recover(&self.inner, record).await {
                Ok(order) => {
                    recovered += 1;
                    tracing::info!(%order_id, status = order.status().as_str(), "saga recovered");
                }
                Err(e) => tracing::warn!(%order_id, error = %e, "saga recovery failed; will retry"),
            }
        }
        Ok(recovered)
    }

    /// Start-up clean-up of what a crashed previous process left: sagas in flight are
    /// finished or compensated, and idempotency keys whose request died before starting its saga
    /// are released so their retries run afresh.
    pub async fn recover_after_restart(&self) -> Result<(usize, u64), AppError> {
        let sagas = self.recover_sagas(Duration::ZERO).await?;
        let keys = self
            .inner
            .store
            .release_abandoned_idempotency_keys()
            .await?;
        Ok((sagas, keys))
    }

    /// Expires overdue reservations, returning their stock.
    pub async fn expire_reservations(&self) -> Result<usize, AppError> {
        let now = self.inner.clock.now();
        let skus = self
            .inner
            .store
            .skus_with_expired_reservations(now, self.inner.config.background_batch_max)
            .await?;
        let count = skus.len();
        for sku in skus {
            self.inner
                .inventory(sku, InventoryCommand::ExpireDue)
                .await?;
        }
        Ok(count)
    }

    /// Runs saga recovery and reservation expiry until `stop` turns true.
    pub fn spawn_background(&self, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut expiry = tokio::time::interval(this.inner.config.expiry_sweep_interval);
            let mut recovery = tokio::time::interval(this.inner.config.recovery_interval);
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = expiry.tick() => {
                        if let Err(e) = this.expire_reservations().await {
                            tracing::warn!(error = %e, "reservation expiry pass failed");
                        }
                    }
                    _ = recovery.tick() => {
                        if let Err(e) = this.recover_sagas(this.inner.config.saga_stuck_after).await {
                            tracing::warn!(error = %e, "saga recovery pass failed");
                        }
                    }
                }
            }
        })
    }

    /// Runtime counters per entity kind.
    pub fn actor_stats(&self) -> Vec<(&'static str, KindStatsSnapshot)> {
        vec![
            (self.inner.products.kind(), self.inner.products.stats()),
            (self.inner.stock.kind(), self.inner.stock.stats()),
            (self.inner.carts.kind(), self.inner.carts.stats()),
            (self.inner.orders.kind(), self.inner.orders.stats()),
        ]
    }

    /// Passivates every actor after letting it commit what it decided.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        let (a, b, c, d) = tokio::join!(
            self.inner.products.shutdown(timeout),
            self.inner.stock.shutdown(timeout),
            self.inner.carts.shutdown(timeout),
            self.inner.orders.shutdown(timeout),
        );
        a && b && c && d
    }
}
